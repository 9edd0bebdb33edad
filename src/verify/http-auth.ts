import type { ErrorCode } from '../core/errors.ts';
import type { AccessClaims } from '../core/access-tokens.ts';
// The wire formats alone, not src/http: this module is part of the light @tokenstile/verify package.
import { bearerToken } from '../protocol/bearer-token.ts';
import { challengeFor, problem, problemContentType, type Problem } from '../protocol/problem-details.ts';
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
  | { readonly ok: true; readonly auth: VerifiedAuth }
  | { readonly ok: false; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Problem };

/**
 * Checks a request's `Authorization: Bearer` header with `verifier`: the framework-neutral core of
 * the Express, Hono and Fastify adapters. Failures come back as the answer to send: 401 with an
 * RFC 6750 `WWW-Authenticate` challenge and problem+json (`invalid_token`, `token_expired`,
 * `session_revoked`), or 503 `service_unavailable` with `Retry-After`. Unexpected errors are
 * rethrown for the framework's error handling.
 */
export async function authenticateRequest(verifier: Verifier, authorization: string | undefined): Promise<AuthOutcome> {
  const token = bearerToken(authorization);
  if (token === null) return refusal('invalid_token', true, 'An access token is required: Authorization: Bearer <token>.');
  try {
    const claims = await verifier.verify(token);
    return { ok: true, auth: { userId: claims.sub, sessionId: claims.sid, claims } };
  } catch (err) {
    if (err instanceof TokenVerificationError) return refusal(err.code, false);
    throw err;
  }
}

function refusal(code: ErrorCode, tokenMissing: boolean, detail?: string): AuthOutcome {
  const body = problem(code, detail);
  const headers: Record<string, string> = { 'content-type': problemContentType, 'cache-control': 'no-store' };
  if (body.status === 401) headers['www-authenticate'] = challengeFor(code, tokenMissing);
  if (code === 'service_unavailable') headers['retry-after'] = '1';
  return { ok: false, status: body.status, headers, body };
}
