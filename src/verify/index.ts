/**
 * `tokenstile/verify`: verify Tokenstile access tokens in a resource server, locally, with logouts
 * honoured at once (revocations pushed by the auth server). See docs/verify.md.
 */
export { createVerifier, type Verifier } from './verifier.ts';
export type { VerifierOptions, RevocationStreamSource, VerifierEvent } from './verify-options.ts';
export {
  TokenVerificationError,
  InvalidTokenError,
  TokenExpiredError,
  SessionRevokedError,
  VerifierUnavailableError,
  type VerifyErrorCode,
} from './verify-errors.ts';
export type { AccessClaims } from '../core/access-tokens.ts';
export type { SigningAlgorithm, PublicJwk } from '../core/keys.ts';
export { authenticateRequest, type AuthOutcome, type VerifiedAuth } from './http-auth.ts';
