import type { AuthInfo } from '../core/auth-info.ts';
import type { AuthResult, Tokenstile } from '../core/tokenstile.ts';
import type { BrowserConfig } from './browser-options.ts';
import { accessCookie, clearSessionCookies } from './cookie-transport.ts';
import { csrfTokenValid, isUnsafeMethod, originAllowed } from './csrf.ts';
import type { HttpReply, HttpRequest } from './http-types.ts';
import { problem, sendProblem } from './problem.ts';
import { bearerToken, dpopToken } from '../protocol/bearer-token.ts';
import { internals } from '../core/core-internals.ts';
import type { ErrorCode } from '../core/errors.ts';
import { dpopChallenge, offerNonce, proofUrl, refuseDpop } from './dpop.ts';

export { bearerToken } from '../protocol/bearer-token.ts';

/** `request.auth` on a route guarded by the authenticate hook (a programming error otherwise). */
export function authOf(request: HttpRequest): AuthInfo {
  if (!request.auth) throw new Error('route is missing the authenticate hook');
  return request.auth;
}

const byCookie = new WeakSet<HttpRequest>();

/** True when `request.auth` came from the access cookie (cookie transport), not a Bearer header. */
export function isCookieAuthenticated(request: HttpRequest): boolean {
  return byCookie.has(request);
}

/**
 * Authenticates a request to a protected route: sets `request.auth` and returns true, or answers
 * 401/403 problem+json on `reply` and returns false. It does no I/O: the signature, the claims and
 * the in-memory revocation list decide (a store read in strict or opaque mode, or while degraded).
 *
 * With `browser` set, a request without an `Authorization` header may authenticate with the access
 * cookie; a state-changing one (POST, PUT, PATCH, DELETE) must then come from an allowed origin
 * and carry the session's CSRF token, or it is refused with 403 `csrf_failed`. A Bearer header
 * always wins: the cookie is then ignored, and no CSRF token is needed (a page on another origin
 * cannot set that header without a CORS preflight, which Tokenstile grants to the allowed origins only).
 */
export function authenticateCaller(core: Tokenstile, browser: BrowserConfig | undefined, request: HttpRequest, reply: HttpReply | (() => HttpReply)): boolean | Promise<boolean> {
  // The reply is only needed to refuse: an adapter may pass a factory, so that an accepted request
  // (the hot path) builds nothing. Plain boolean when the core answered without I/O.
  const replyOf = () => (typeof reply === 'function' ? reply() : reply);
  const refuse = (code: Parameters<typeof sendProblem>[1], options: Parameters<typeof sendProblem>[2], clearCookies = false): false => {
    const r = replyOf();
    if (clearCookies) clearSessionCookies(r, browser!);
    sendProblem(r, code, options);
    return false;
  };
  const raw = request.headers.authorization;
  const header = Array.isArray(raw) ? raw[0] : raw;
  let token = bearerToken(header);
  // RFC 9449 §7.1: a DPoP-bound token comes with the DPoP scheme (or the access cookie).
  const dpopScheme = token === null && (token = dpopToken(header)) !== null;
  const fromCookie = token === null && header === undefined && browser !== undefined ? accessCookie(request) : null;
  if (fromCookie !== null) token = fromCookie;
  if (token === null) {
    const challenge = internals(core).dpop.mode === 'off' ? undefined : `Bearer realm="tokenstile", ${dpopChallenge()}`;
    return refuse('invalid_token', { tokenMissing: true, challenge, detail: 'An access token is required: Authorization: Bearer <token> (or DPoP <token> with a DPoP proof), or the access cookie.' });
  }
  const unsafe = fromCookie !== null && isUnsafeMethod(request.method);
  if (unsafe && !originAllowed(request, browser!)) return refuse('csrf_failed', { detail: 'This origin may not send cookie-authenticated requests.' });
  const accept = (auth: AuthInfo): boolean => {
    if (unsafe && !csrfTokenValid(core, request, auth.sessionId)) {
      return refuse('csrf_failed', { detail: 'A cookie-authenticated request that changes state needs the X-CSRF-Token header of its session.' });
    }
    if (fromCookie !== null) byCookie.add(request);
    request.auth = auth;
    return true;
  };
  const judge = (result: AuthResult): boolean | Promise<boolean> => {
    if (!result.ok) {
      if (dpopScheme && result.code !== 'service_unavailable') return (refuseDpop(core, replyOf(), result.code, codeTitle(result.code)), false);
      // An ended session's cookies are useless: let the browser drop them.
      return refuse(result.code, { retryAfterMs: result.retryAfterMs }, fromCookie !== null && result.code === 'session_revoked');
    }
    const jkt = result.value.claims.cnf?.jkt;
    // The hot path: a Bearer token sent as one.
    if (jkt === undefined && !dpopScheme) return accept(result.value);
    return checkBinding(core, request, replyOf, token!, jkt, dpopScheme).then((bound) => bound && accept(result.value));
  };
  const answer = core.authenticate(token);
  // A promise when the store is asked (strict mode, opaque handles, a lapsed lease); plain otherwise.
  return answer instanceof Promise ? answer.then(judge) : judge(answer);
}

/**
 * The DPoP part of authenticating (RFC 9449 §7): a bound token needs the DPoP scheme (or the
 * cookie) and a proof by its key for this request; the DPoP scheme needs a bound token.
 */
async function checkBinding(core: Tokenstile, request: HttpRequest, replyOf: () => HttpReply, token: string, jkt: string | undefined, dpopScheme: boolean): Promise<boolean> {
  if (jkt === undefined) {
    refuseDpop(core, replyOf(), 'invalid_token', 'This access token is not DPoP-bound: send it with the Bearer scheme.');
    return false;
  }
  const bearer = !dpopScheme && request.headers.authorization !== undefined;
  if (bearer) {
    refuseDpop(core, replyOf(), 'invalid_token', 'This access token is DPoP-bound: send it with Authorization: DPoP and a DPoP proof.');
    return false;
  }
  const url = proofUrl(core, request);
  if (url === null) {
    refuseDpop(core, replyOf(), 'invalid_dpop_proof', 'The request URL is unknown here, so no DPoP proof can be checked.');
    return false;
  }
  // Neither the DPoP nor the Bearer scheme: the access cookie, which the page cannot hash for `ath`.
  const checked = await internals(core).dpop.resource(request.method, url, request.headers.dpop, token, jkt, !dpopScheme);
  if (checked.ok) {
    offerNonce(core, replyOf());
    return true;
  }
  if (checked.code === 'service_unavailable') sendProblem(replyOf(), 'service_unavailable', { detail: `${checked.reason}; retry later.`, retryAfterMs: 1000 });
  else refuseDpop(core, replyOf(), checked.code, `${checked.reason}.`);
  return false;
}

function codeTitle(code: ErrorCode): string {
  return problem(code).title;
}
