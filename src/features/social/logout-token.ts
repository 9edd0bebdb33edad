import type { JWTVerifyGetKey } from 'jose';

/** `jose`, loaded at the first logout token: importing Tokenstile loads no other package. */
const loadJose = () => import('jose');

/** The `events` member that makes a JWT a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, section 2.4). */
export const backchannelLogoutEvent = 'http://schemas.openid.net/event/backchannel-logout';

/** What a valid logout token asks: end the sessions of provider session `sid`, or of user `sub`. */
export interface LogoutRequest {
  readonly sub: string | null;
  readonly sid: string | null;
  readonly jti: string;
  /** Until when the token could be replayed (ms): its `exp`, or `iat` plus the accepted age. */
  readonly replayableUntil: number;
}

/** What a logout token is checked against. */
export interface LogoutTokenCheck {
  readonly issuer: string;
  readonly clientId: string;
  readonly keys: JWTVerifyGetKey;
  /** The algorithms the provider signs with (`logoutTokenAlgorithms`): any other is refused. */
  readonly algorithms: readonly string[];
  /** Now, in ms (the injected clock). */
  readonly now: number;
  readonly clockToleranceSeconds: number;
}

/** JWS algorithms with a public key: a logout token is never accepted unsigned or with a MAC. */
const asymmetric = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

/**
 * The algorithms a provider's logout tokens may use: section 2.6 checks their signature as an ID
 * token's, so those of its metadata's `id_token_signing_alg_values_supported` that have a public
 * key, or RS256 (the default of OpenID Connect) when it lists none. Empty when it lists only
 * `none` or MACs: then no logout token of it is accepted.
 */
export function logoutTokenAlgorithms(idTokenAlgorithms: unknown): string[] {
  if (!Array.isArray(idTokenAlgorithms) || idTokenAlgorithms.length === 0) return ['RS256'];
  return idTokenAlgorithms.filter((a): a is string => typeof a === 'string' && asymmetric.has(a));
}

/** Logout tokens older than this (by `iat`) are refused, whatever their `exp`. */
export const maxLogoutTokenAgeSeconds = 300;

/** The provider's signing keys, fetched from its `jwks_uri` and cached by jose (refetched for an unknown `kid`). */
export async function remoteKeys(jwksUri: string): Promise<JWTVerifyGetKey> {
  const { createRemoteJWKSet } = await loadJose();
  return createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 10_000, cooldownDuration: 30_000 });
}

/**
 * Validates a logout token as section 2.6 of the specification says: a JWS signed by one of the
 * provider's keys with one of its algorithms (asymmetric only: never `none`, never a MAC), `iss` the provider,
 * `aud` our client id, `iat` present and recent, `exp` not past, `jti` present, `events` holding
 * the back-channel logout member as an object, `sub` and/or `sid`, and no `nonce` (so that an ID
 * token can never pass for a logout token). A `typ` header, when present, must be `logout+jwt`.
 * Returns the reason as text when refused (never echoing the token). Replay is the caller's check.
 */
export async function verifyLogoutToken(token: string, check: LogoutTokenCheck): Promise<{ ok: true; value: LogoutRequest } | { ok: false; reason: string }> {
  const { errors, jwtVerify } = await loadJose();
  let payload: Record<string, unknown>;
  let typ: string | undefined;
  try {
    const verified = await jwtVerify(token, check.keys, {
      issuer: check.issuer,
      audience: check.clientId,
      algorithms: check.algorithms.filter((a) => asymmetric.has(a)),
      currentDate: new Date(check.now),
      clockTolerance: check.clockToleranceSeconds,
      maxTokenAge: maxLogoutTokenAgeSeconds,
      requiredClaims: ['iat', 'jti'],
    });
    payload = verified.payload as Record<string, unknown>;
    typ = verified.protectedHeader.typ;
  } catch (err) {
    if (err instanceof errors.JOSEError) return { ok: false, reason: `${err.code}` };
    throw err;
  }
  if (typ !== undefined && typ.toLowerCase() !== 'logout+jwt' && typ.toLowerCase() !== 'application/logout+jwt') return { ok: false, reason: 'typ is not logout+jwt' };
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events)) return { ok: false, reason: 'events is missing' };
  const member = (events as Record<string, unknown>)[backchannelLogoutEvent];
  if (typeof member !== 'object' || member === null || Array.isArray(member)) return { ok: false, reason: 'events lacks the back-channel logout event' };
  if ('nonce' in payload) return { ok: false, reason: 'a logout token must not carry a nonce' };
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null;
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : null;
  if (sub === null && sid === null) return { ok: false, reason: 'neither sub nor sid' };
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) return { ok: false, reason: 'jti is not valid' };
  const iat = payload.iat as number;
  const until = typeof payload.exp === 'number' ? Math.min(payload.exp, iat + maxLogoutTokenAgeSeconds) : iat + maxLogoutTokenAgeSeconds;
  return { ok: true, value: { sub, sid, jti: payload.jti, replayableUntil: (until + check.clockToleranceSeconds) * 1000 } };
}
