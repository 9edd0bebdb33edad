import type { ErrorCode } from '../core/errors.ts';
import type { AccessClaims } from '../core/access-tokens.ts';
// The wire formats alone, not src/http: this module is part of the light @tokenstile/verify package.
import { bearerToken } from '../protocol/bearer-token.ts';
import { challengeFor, dpopChallenge, problem, problemContentType, type Problem } from '../protocol/problem-details.ts';
import { TokenVerificationError } from './verify-errors.ts';
import type { Verifier } from './verifier.ts';

/** Who is calling, as a resource server knows it from a verified token. */
export interface VerifiedAuth {
  /** `sub`: the user id. */
  readonly userId: string;
  /** `sid`: the session id. */
  readonly sessionId: string;
  readonly claims: AccessClaims;
}

/** What an adapter does with a request: let it through with `auth`, or answer with this error. */
export type AuthOutcome =
  /** `headers`: to add to the answer (the next `DPoP-Nonce`). */
  | { readonly ok: true; readonly auth: VerifiedAuth; readonly headers?: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Problem };

/** What the DPoP check needs of a request besides its `Authorization` header (see `authenticateRequest`). */
export interface RequestContext {
  /** The request method. */
  readonly method: string;
  /** The request's URL, absolute (or the path, with the verifier's `dpop.origin`). */
  readonly url: string;
  /** The `DPoP` header. */
  readonly dpop: string | readonly string[] | undefined;
}

/**
 * Checks a request's `Authorization` header with `verifier`: the framework-neutral core of the
 * Express, Hono and Fastify adapters. With `request` (method, URL, `DPoP` header), DPoP-bound
 * tokens are accepted with their proofs (RFC 9449, `verifier.verifyRequest`); without it, Bearer
 * tokens only. Failures come back as the answer to send: 401 with an RFC 6750 (or, for the DPoP
 * scheme, RFC 9449) `WWW-Authenticate` challenge and problem+json (`invalid_token`,
 * `token_expired`, `session_revoked`, `invalid_dpop_proof`, `use_dpop_nonce`), or 503
 * `service_unavailable` with `Retry-After`; a `DPoP-Nonce` when the verifier has nonces.
 * Unexpected errors are rethrown for the framework's error handling.
 */
export async function authenticateRequest(verifier: Verifier, authorization: string | undefined, request?: RequestContext): Promise<AuthOutcome> {
  // A verifier-shaped object without the DPoP methods (a test double) is asked for Bearer tokens only.
  const dpopAware = request !== undefined && typeof verifier.verifyRequest === 'function';
  const nonce = dpopAware ? (verifier.dpopNonce?.() ?? null) : null;
  try {
    let claims;
    if (!dpopAware) {
      const token = bearerToken(authorization);
      if (token === null) return refusal('invalid_token', true, null, 'An access token is required: Authorization: Bearer <token>.');
      claims = await verifier.verify(token);
    } else {
      // Both schemes are accepted here, so both are named (RFC 9449 §7.1, as the auth server does).
      if (authorization === undefined) return refusal('invalid_token', true, nonce, 'An access token is required: Authorization: Bearer <token>, or DPoP <token> with a DPoP proof.', `Bearer realm="tokenstile", ${dpopChallenge()}`);
      claims = await verifier.verifyRequest({ ...request!, authorization });
    }
    return { ok: true, auth: { userId: claims.sub, sessionId: claims.sid, claims }, ...(nonce !== null && { headers: { 'dpop-nonce': nonce } }) };
  } catch (err) {
    if (err instanceof TokenVerificationError) return err.scheme === 'DPoP' ? dpopRefusal(err, nonce) : refusal(err.code, false, nonce);
    throw err;
  }
}

function refusal(code: ErrorCode, tokenMissing: boolean, nonce: string | null, detail?: string, challenge?: string): AuthOutcome {
  const body = problem(code, detail);
  const headers: Record<string, string> = { 'content-type': problemContentType, 'cache-control': 'no-store' };
  if (body.status === 401) headers['www-authenticate'] = challenge ?? challengeFor(code, tokenMissing);
  if (code === 'service_unavailable') headers['retry-after'] = '1';
  if (nonce !== null) headers['dpop-nonce'] = nonce;
  return { ok: false, status: body.status, headers, body };
}

/** A refusal under the DPoP scheme: always 401, with `WWW-Authenticate: DPoP error=…` (RFC 9449 §7.1). */
function dpopRefusal(err: TokenVerificationError, nonce: string | null): AuthOutcome {
  const body = { ...problem(err.code, err.message), status: 401 };
  const error = err.code === 'invalid_dpop_proof' || err.code === 'use_dpop_nonce' ? err.code : 'invalid_token';
  const headers: Record<string, string> = {
    'content-type': problemContentType,
    'cache-control': 'no-store',
    'www-authenticate': dpopChallenge({ code: error, description: err.message }),
  };
  if (nonce !== null) headers['dpop-nonce'] = nonce;
  return { ok: false, status: 401, headers, body };
}
