import type { AuthInfo } from '../core/auth-info.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { BrowserConfig } from './browser-options.ts';
import { accessCookie, clearSessionCookies } from './cookie-transport.ts';
import { csrfTokenValid, isUnsafeMethod, originAllowed } from './csrf.ts';
import type { HttpReply, HttpRequest } from './http-types.ts';
import { sendProblem } from './problem.ts';
import { bearerToken } from '../protocol/bearer-token.ts';

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
export async function authenticateCaller(core: Tokenstile, browser: BrowserConfig | undefined, request: HttpRequest, reply: HttpReply): Promise<boolean> {
  const raw = request.headers.authorization;
  const header = Array.isArray(raw) ? raw[0] : raw;
  let token = bearerToken(header);
  const fromCookie = token === null && header === undefined && browser !== undefined ? accessCookie(request) : null;
  if (fromCookie !== null) token = fromCookie;
  if (token === null) {
    sendProblem(reply, 'invalid_token', { tokenMissing: true, detail: 'An access token is required: Authorization: Bearer <token>, or the access cookie.' });
    return false;
  }
  const unsafe = fromCookie !== null && isUnsafeMethod(request.method);
  if (unsafe && !originAllowed(request, browser!)) {
    sendProblem(reply, 'csrf_failed', { detail: 'This origin may not send cookie-authenticated requests.' });
    return false;
  }
  const answer = core.authenticate(token);
  // A promise when the store is asked (strict mode, opaque handles, feed down); plain otherwise.
  const result = answer instanceof Promise ? await answer : answer;
  if (!result.ok) {
    // An ended session's cookies are useless: let the browser drop them.
    if (fromCookie !== null && result.code === 'session_revoked') clearSessionCookies(reply, browser!);
    sendProblem(reply, result.code, { retryAfterMs: result.retryAfterMs });
    return false;
  }
  if (unsafe && !csrfTokenValid(core, request, result.value.sessionId)) {
    sendProblem(reply, 'csrf_failed', { detail: 'A cookie-authenticated request that changes state needs the X-CSRF-Token header of its session.' });
    return false;
  }
  if (fromCookie !== null) byCookie.add(request);
  request.auth = result.value;
  return true;
}
