/**
 * `tokenstile/verify`: verify Tokenstile access tokens in a resource server, locally, with logouts
 * honoured at once (revocations pushed by the auth server). See docs/verify.md.
 */
export { createVerifier, type Verifier, type RequestToVerify } from './verifier.ts';
export type { VerifierOptions, RevocationStreamSource, VerifierEvent, VerifierDpopOptions, DpopNonceSource } from './verify-options.ts';
export type { ProofReplayStore } from '../core/proof-replay.ts';
export { MemoryProofReplayStore } from '../core/proof-replay.ts';
export { DpopNonces } from '../core/dpop-nonces.ts';
export {
  TokenVerificationError,
  InvalidTokenError,
  TokenExpiredError,
  SessionRevokedError,
  VerifierUnavailableError,
  InvalidDpopProofError,
  UseDpopNonceError,
  type VerifyErrorCode,
} from './verify-errors.ts';
export type { AccessClaims } from '../core/access-tokens.ts';
export type { SigningAlgorithm, PublicJwk } from '../core/keys.ts';
export { authenticateRequest, type AuthOutcome, type VerifiedAuth, type RequestContext } from './http-auth.ts';
