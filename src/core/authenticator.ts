import type { AccessClaims, AccessTokenVerifier } from './access-tokens.ts';
import { cacheTtlMs, type CacheHost } from './auth-cache.ts';
import { Authenticated, type AuthInfo } from './auth-info.ts';
import type { Clock } from './clock.ts';
import type { TokenstileConfig } from './config.ts';
import { fail, ok, type Result } from './errors.ts';
import { isOpaqueHandle, type OpaqueHandleParts, type OpaqueTokenCodec } from './opaque-tokens.ts';
import { hashesEqual } from './refresh-tokens.ts';
import type { RevocationSync } from './revocation-sync.ts';
import type { SessionRecord, SessionStore } from './session-store.ts';
import type { UserRecord, UserStore } from './user-store.ts';

/** What `authenticate` answers. */
export type AuthResult = Result<AuthInfo, 'invalid_token' | 'token_expired' | 'session_revoked' | 'service_unavailable'>;

type Failure = Extract<AuthResult, { ok: false }>;

/** Checks an access token; plain for the in-memory path, a promise when the store is asked. */
export type Authenticate = (accessToken: string) => AuthResult | Promise<AuthResult>;

export interface AuthenticatorDeps {
  readonly config: TokenstileConfig;
  readonly clock: Clock;
  readonly verifier: AccessTokenVerifier;
  /** Present in opaque format. */
  readonly opaque: OpaqueTokenCodec | null;
  readonly sync: RevocationSync;
  readonly sessions: SessionStore;
  /** Read with the session of an opaque handle, for its `email_verified`. */
  readonly users: UserStore;
  /** The session cache, through which opaque handles are resolved in `pushed` mode. */
  readonly host: CacheHost;
}

/** What the cache keeps of a session to resolve its opaque handle: nothing of the secret itself. */
interface HandleState {
  /** SHA-256 of the current handle's secret (null: none, e.g. the session began in JWT format). */
  readonly hash: string | null;
  /** When the current handle was issued, and until when it is valid, in seconds. */
  readonly iat: number;
  readonly exp: number;
  /** The session's `amr` (absent in entries cached before it was recorded). */
  readonly amr?: readonly string[];
  /** The session's `authTime`, in seconds, and whether the user's email is verified (absent in older entries). */
  readonly authTime?: number;
  readonly emailVerified?: boolean;
  /** The session's DPoP key thumbprint, when it is bound to one. */
  readonly jkt?: string;
}

const unavailable: Failure = fail('service_unavailable', 1000);

/**
 * Builds `authenticate` for the configured token format and revocation check:
 *
 * - `jwt` + `pushed`: signature, claims, then the in-memory revocation list. No I/O, unless the
 *   revocation feed is down, when the store decides.
 * - `jwt` + `strict`: the same, then the session row, on every request.
 * - `opaque`: MAC check (garbage never reaches a lookup), the in-memory list, then the session row
 *   maps the handle: read through the session cache in `pushed` mode (refresh and logout drop the
 *   entry), straight from the store in `strict` mode or while the feed is down.
 *
 * A store that cannot answer gives `service_unavailable` (fail closed), never a pass.
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticate {
  const { config, clock, verifier, opaque, sync, sessions, users, host } = deps;

  const session = (sid: string): Promise<SessionRecord | null | undefined> =>
    sessions.get(sid).catch(() => undefined);

  if (opaque === null) {
    const strict = config.revocationCheck === 'strict';
    return (accessToken) => {
      const verified = verifier.verify(accessToken);
      if (!verified.ok) return verified;
      const claims = verified.value;
      if (sync.list.isRevoked(claims.sid)) return fail('session_revoked');
      const auth = ok<AuthInfo>(new Authenticated(host, claims));
      if (strict) {
        return session(claims.sid).then((s) =>
          s === undefined ? unavailable : s === null || s.revokedAt !== null || s.userId !== claims.sub ? fail('session_revoked') : auth,
        );
      }
      if (!sync.degraded) return auth;
      // The feed is down: the list may miss a revocation, so the store decides (slower, still right).
      return sync.checkStore(claims.sid).then((state) =>
        state === 'live' ? auth : state === 'revoked' ? fail('session_revoked') : unavailable,
      );
    };
  }

  const stateOf = (s: SessionRecord, user: UserRecord): HandleState => ({
    hash: s.accessHash,
    iat: Math.floor((s.rotatedAt ?? s.createdAt) / 1000),
    exp: Math.floor(s.accessExpiresAt / 1000),
    amr: s.amr,
    authTime: Math.floor(s.authTime / 1000),
    emailVerified: user.emailVerifiedAt !== null,
    ...(typeof s.dpopJkt === 'string' && { jkt: s.dpopJkt }),
  });

  const judge = (state: HandleState, parts: OpaqueHandleParts): AuthResult => {
    // Replaced by a refresh: the client holds a newer handle, or should get one.
    if (!hashesEqual(state.hash, parts.hash)) return fail('token_expired');
    if (state.exp <= clock.now() / 1000 - config.clockToleranceMs / 1000) return fail('token_expired');
    const claims: AccessClaims = {
      iss: config.issuer,
      aud: config.audience,
      sub: parts.userId,
      sid: parts.sessionId,
      // Names the handle (for logs and introspection) without revealing its secret or hash.
      jti: parts.hash.slice(0, 22),
      iat: state.iat,
      exp: state.exp,
      ...(Array.isArray(state.amr) ? { amr: state.amr } : {}),
      ...(typeof state.authTime === 'number' ? { auth_time: state.authTime } : {}),
      ...(typeof state.emailVerified === 'boolean' ? { email_verified: state.emailVerified } : {}),
      ...(typeof state.jkt === 'string' ? { cnf: { jkt: state.jkt } } : {}),
    };
    return ok(new Authenticated(host, claims));
  };

  /** The state of the handle's session in the store, or why there is none to judge. */
  const stored = async (parts: OpaqueHandleParts): Promise<HandleState | Failure> => {
    // The user is read alongside (not after) the session: one round trip's wait.
    const [s, user] = await Promise.all([session(parts.sessionId), users.byId(parts.userId).catch(() => undefined)]);
    if (s === undefined || user === undefined) return unavailable;
    if (s === null || user === null || s.revokedAt !== null || s.userId !== parts.userId) return fail('session_revoked');
    return stateOf(s, user);
  };

  const fromStore = async (parts: OpaqueHandleParts): Promise<AuthResult> => {
    const state = await stored(parts);
    return 'ok' in state ? state : judge(state, parts);
  };

  const throughCache = async (parts: OpaqueHandleParts): Promise<AuthResult> => {
    const cache = host.cache;
    const scope = { userId: parts.userId, sessionId: parts.sessionId };
    const hit = await cache.get(scope, 'access').catch(() => null);
    if (hit !== null) {
      const state = parseState(hit);
      if (state !== null) return judge(state, parts);
    }
    // The version is taken before the store is read, so a refresh or logout in between (which
    // drops the scope) makes this write unreadable.
    const version = await cache.version(scope).catch(() => null);
    const state = await stored(parts);
    if ('ok' in state) return state;
    const ttl = Math.min(cacheTtlMs, state.exp * 1000 - clock.now());
    if (version !== null && ttl > 0) await cache.set(scope, version, 'access', JSON.stringify(state), ttl).catch(() => {});
    return judge(state, parts);
  };

  const strict = config.revocationCheck === 'strict';
  return (accessToken) => {
    if (typeof accessToken !== 'string' || !isOpaqueHandle(accessToken)) return fail('invalid_token');
    const parts = opaque.parse(accessToken);
    if (parts === null) return fail('invalid_token');
    if (sync.list.isRevoked(parts.sessionId)) return fail('session_revoked');
    return strict || sync.degraded ? fromStore(parts) : throughCache(parts);
  };
}

function parseState(text: string): HandleState | null {
  try {
    const v = JSON.parse(text) as Partial<HandleState>;
    if ((typeof v.hash === 'string' || v.hash === null) && typeof v.iat === 'number' && typeof v.exp === 'number') return v as HandleState;
  } catch {
    // A corrupt entry is a miss.
  }
  return null;
}
