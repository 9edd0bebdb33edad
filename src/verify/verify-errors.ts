import { TokenstileError, type ErrorCode } from '../core/errors.ts';

/** The codes `verify()` throws with; the same as the auth server's 401/503 problem codes. */
export type VerifyErrorCode = 'invalid_token' | 'token_expired' | 'session_revoked' | 'service_unavailable' | 'invalid_dpop_proof' | 'use_dpop_nonce';

/**
 * Base class of every error `verify()` throws: a stable `code`, a message safe to show (never the
 * token), and the underlying failure as `cause` where there is one.
 */
export class TokenVerificationError extends TokenstileError {
  declare readonly code: VerifyErrorCode;
  /**
   * `DPoP` when the refusal concerns the DPoP scheme (a DPoP-bound token, or `Authorization:
   * DPoP`): the answer's challenge is then `WWW-Authenticate: DPoP …` (RFC 9449 §7.1).
   */
  scheme: 'Bearer' | 'DPoP' = 'Bearer';
  constructor(code: VerifyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code as ErrorCode, message, options);
  }
}

/**
 * The DPoP proof is missing, malformed, replayed, or does not match the request, the token or its
 * key: `invalid_dpop_proof` (401 with `WWW-Authenticate: DPoP error="invalid_dpop_proof"`).
 */
export class InvalidDpopProofError extends TokenVerificationError {
  constructor(message = 'The DPoP proof is missing, malformed, or does not match this request or key.', options?: { cause?: unknown }) {
    super('invalid_dpop_proof', message, options);
    this.scheme = 'DPoP';
  }
}

/** The proof lacks the current server nonce: `use_dpop_nonce`; answer with a fresh `DPoP-Nonce`. */
export class UseDpopNonceError extends TokenVerificationError {
  constructor(message = 'The DPoP proof must carry the server nonce from the DPoP-Nonce header.', options?: { cause?: unknown }) {
    super('use_dpop_nonce', message, options);
    this.scheme = 'DPoP';
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
