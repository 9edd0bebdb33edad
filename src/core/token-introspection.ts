import type { AccessClaims } from './access-tokens.ts';
import type { CoreContext } from './context.ts';
import type { Result } from './errors.ts';
import { hashesEqual, hashRefreshSecret } from './refresh-tokens.ts';

/**
 * What introspection (RFC 7662) reports about an active token. Times in seconds. Inactive tokens
 * (revoked, expired, unknown, malformed) are reported as nothing but inactive.
 */
export type Introspection =
  | { readonly active: false }
  | {
      readonly active: true;
      readonly tokenType: 'access_token' | 'refresh_token';
      readonly sub: string;
      readonly sid: string;
      readonly iss: string;
      readonly aud?: AccessClaims['aud'];
      readonly jti?: string;
      readonly iat?: number;
      readonly exp: number;
      /** How the session's user authenticated (RFC 8176). */
      readonly amr?: readonly string[];
      /** When the user last proved who they are in the session, seconds. */
      readonly auth_time?: number;
      /** Whether the user's email was verified (access tokens). */
      readonly email_verified?: boolean;
      /** The DPoP key the token (or its session) is bound to (RFC 9449 §6.2). */
      readonly cnf?: { readonly jkt: string };
    };

const inactive = Object.freeze({ active: false as const });

/** What is needed of an authenticated caller here (any richer `AuthInfo` fits). */
interface Caller {
  readonly userId: string;
  readonly sessionId: string;
  readonly claims: AccessClaims;
}

type Authenticate = (token: string) => Result<Caller> | Promise<Result<Caller>>;

/**
 * Introspects a token. Access tokens go through `authenticate` (whatever formats it accepts, with
 * the revocation check); refresh tokens are looked up: active while their session is live and they
 * are its current token. A `service_unavailable` from `authenticate` is thrown-free: it comes back
 * as `unavailable` so that the caller answers 503 instead of a wrong `active:false`.
 */
export async function introspectToken(ctx: CoreContext, authenticate: Authenticate, token: string): Promise<Introspection | 'unavailable'> {
  if (typeof token !== 'string' || token.length === 0) return inactive;
  const refresh = ctx.codec.parse(token);
  if (refresh) {
    const session = await ctx.stores.sessions.get(refresh.sessionId);
    const now = ctx.clock.now();
    if (!session || session.revokedAt !== null || session.expiresAt <= now) return inactive;
    if (refresh.generation !== session.generation || !hashesEqual(session.refreshHash, hashRefreshSecret(refresh.secret))) return inactive;
    const user = await ctx.stores.users.byId(session.userId);
    if (!user || user.disabledAt !== null) return inactive;
    return { active: true, tokenType: 'refresh_token', sub: session.userId, sid: session.id, iss: ctx.config.issuer, exp: Math.floor(session.expiresAt / 1000), amr: session.amr, auth_time: Math.floor(session.authTime / 1000),
      ...(typeof session.dpopJkt === 'string' ? { cnf: { jkt: session.dpopJkt } } : {}) };
  }
  const result = await authenticate(token);
  if (!result.ok) return result.code === 'service_unavailable' ? 'unavailable' : inactive;
  const { claims, userId, sessionId } = result.value;
  return { active: true, tokenType: 'access_token', sub: userId, sid: sessionId, iss: claims.iss, aud: claims.aud, jti: claims.jti, iat: claims.iat, exp: claims.exp,
    ...(claims.amr === undefined ? {} : { amr: claims.amr }),
    ...(claims.auth_time === undefined ? {} : { auth_time: claims.auth_time }),
    ...(claims.email_verified === undefined ? {} : { email_verified: claims.email_verified }),
    ...(claims.cnf === undefined ? {} : { cnf: { jkt: claims.cnf.jkt } }),
  };
}

/**
 * Revokes what a token stands for (RFC 7009). Our unit of revocation is the session: revoking a
 * refresh token, or a valid access token, ends its session, so every access and refresh token of
 * it is refused everywhere. A refresh token we issued (its MAC proves it) ends its session even if
 * it was already spent: whoever holds any generation of it may end it, as reuse detection would.
 * Unknown, expired or malformed tokens change nothing. Returns the session ended, if any, or
 * `unavailable` when an access token could not be checked (the store is down while the feed is).
 */
export async function revokeToken(ctx: CoreContext, authenticate: Authenticate, token: string): Promise<string | null | 'unavailable'> {
  if (typeof token !== 'string' || token.length === 0) return null;
  const refresh = ctx.codec.parse(token);
  let sessionId: string | null = null;
  if (refresh) sessionId = refresh.sessionId;
  else {
    const result = await authenticate(token);
    if (result.ok) sessionId = result.value.sessionId;
    else if (result.code === 'service_unavailable') return 'unavailable';
  }
  if (sessionId === null) return null;
  const ended = await ctx.revoke({ sessionId }, 'token_revoked');
  return ended.length > 0 ? sessionId : null;
}
