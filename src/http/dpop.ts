import { internals } from '../core/core-internals.ts';
import { dpopChallenge } from '../protocol/problem-details.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { HttpReply, HttpRequest } from './http-types.ts';
import { sendProblem, type ProblemReply } from './problem.ts';

/** The DPoP key each sign-in or refresh request proved possession of (set by `checkSignInProof`). */
const provenKeys = new WeakMap<HttpRequest, string>();

/** The thumbprint of the DPoP key a sign-in or refresh request proved possession of, or null. */
export function provenDpopKey(request: HttpRequest): string | null {
  return provenKeys.get(request) ?? null;
}

const issuerOrigins = new WeakMap<Tokenstile, string>();

/**
 * The URL a DPoP proof's `htu` must name (RFC 9449 §4.3): the issuer's origin (the public origin
 * that clients see, whatever proxy sits in front) and the path the request was sent to, without
 * its query. Null when the request's path is unknown.
 */
export function proofUrl(core: Tokenstile, request: Pick<HttpRequest, 'url'>): string | null {
  const url = request.url;
  if (url === undefined) return null;
  let origin = issuerOrigins.get(core);
  if (origin === undefined) issuerOrigins.set(core, (origin = new URL(core.config.issuer).origin));
  const query = url.search(/[?#]/);
  return origin + (query === -1 ? url : url.slice(0, query));
}

/** Sets `DPoP-Nonce` on an answer when nonces are on (RFC 9449 §8: any answer may carry the next one). */
export function offerNonce(core: Tokenstile, reply: { header(name: string, value: string): unknown }): void {
  const nonce = internals(core).dpop.nonce();
  if (nonce !== null) reply.header('dpop-nonce', nonce);
}

/**
 * Checks the `DPoP` header of a sign-in or refresh request (RFC 9449 §5): with a valid proof, the
 * key is recorded for `device()`, so the session started or rotated here is bound to it; without
 * one, Bearer tokens (or, with `dpop: 'required'`, 400 `invalid_dpop_proof`). A bad proof is
 * answered 400 `invalid_dpop_proof` (or `use_dpop_nonce`, with a fresh `DPoP-Nonce`) before the
 * route runs, so nothing (a refresh token in particular) is spent. False once answered.
 */
export async function checkSignInProof(core: Tokenstile, request: HttpRequest, reply: HttpReply): Promise<boolean> {
  const policy = internals(core).dpop;
  if (policy.mode === 'off') return true;
  offerNonce(core, reply);
  const url = proofUrl(core, request) ?? '';
  const checked = await policy.signIn(request.method, url, request.headers.dpop);
  if (checked.ok) {
    if (checked.jkt !== null) provenKeys.set(request, checked.jkt);
    return true;
  }
  sendProblem(reply, checked.code, { detail: `${checked.reason}.`, ...(checked.code === 'service_unavailable' && { retryAfterMs: 1000 }) });
  return false;
}

export { dpopChallenge } from '../protocol/problem-details.ts';

/**
 * Answers 401 for a protected request refused under the DPoP scheme: problem+json with `code`
 * and `WWW-Authenticate: DPoP error=…` (RFC 9449 §7.1), plus a fresh `DPoP-Nonce` when nonces are
 * on (§9: `use_dpop_nonce`).
 */
export function refuseDpop<R extends ProblemReply>(core: Tokenstile, reply: R, code: ErrorCode, description: string): R {
  offerNonce(core, reply);
  const error = code === 'invalid_dpop_proof' || code === 'use_dpop_nonce' ? code : 'invalid_token';
  return sendProblem(reply, code, { detail: description, status: 401, challenge: dpopChallenge({ code: error, description }) });
}
