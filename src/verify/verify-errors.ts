import { TokenstileError, type ErrorCode } from '../core/errors.ts';

/** The codes `verify()` throws with; the same as the auth server's 401/503 problem codes. */
export type VerifyErrorCode = 'invalid_token' | 'token_expired' | 'session_revoked' | 'service_unavailable';

/**
 * Base class of every error `verify()` throws: a stable `code`, a message safe to show (never the
 * token), and the underlying failure as `cause` where there is one.
 */
export class TokenVerificationError extends TokenstileError {
  declare readonly code: VerifyErrorCode;
  constructor(code: VerifyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code as ErrorCode, message, options);
  }
}

/** Missing, malformed, forged, wrong issuer, audience, algorithm or key: `invalid_token`. */
export class InvalidTokenError extends TokenVerificationError {
  constructor(message = 'The access token is missing, malformed or not valid here.', options?: { cause?: unknown }) {
    super('invalid_token', message, options);
  }
}

/** Past `exp` (beyond the clock tolerance): `token_expired`; the client should refresh. */
export class TokenExpiredError extends TokenVerificationError {
  constructor(message = 'The access token has expired; refresh it.', options?: { cause?: unknown }) {
    super('token_expired', message, options);
  }
}

/** The token's session was ended (logout, password change, revoke, reuse): `session_revoked`. */
export class SessionRevokedError extends TokenVerificationError {
  constructor(message = 'The session of this token has ended; sign in again.', options?: { cause?: unknown }) {
    super('session_revoked', message, options);
  }
}

/**
 * The verifier cannot decide safely: the revocation feed is stale beyond its bound (and no
 * introspection fallback answered), or no signing keys could be fetched: `service_unavailable`.
 * Answer 503 and let the client retry.
 */
export class VerifierUnavailableError extends TokenVerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('service_unavailable', message, options);
  }
}
