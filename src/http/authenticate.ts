import type { AuthInfo } from '../core/auth-info.ts';
import type { AuthResult, Tokenstile } from '../core/tokenstile.ts';
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
export function authenticateCaller(core: Tokenstile, browser: BrowserConfig | undefined, request: HttpRequest, reply: HttpReply | (() => HttpReply)): boolean | Promise<boolean> {
  // The reply is only needed to refuse: an adapter may pass a factory, so that an accepted request
  // (the hot path) builds nothing. Plain boolean when the core answered without I/O.
  const refuse = (code: Parameters<typeof sendProblem>[1], options: Parameters<typeof sendProblem>[2], clearCookies = false): false => {
    const r = typeof reply === 'function' ? reply() : reply;
    if (clearCookies) clearSessionCookies(r, browser!);
    sendProblem(r, code, options);
    return false;
  };
  const raw = request.headers.authorization;
  const header = Array.isArray(raw) ? raw[0] : raw;
  let token = bearerToken(header);
  const fromCookie = token === null && header === undefined && browser !== undefined ? accessCookie(request) : null;
  if (fromCookie !== null) token = fromCookie;
  if (token === null) return refuse('invalid_token', { tokenMissing: true, detail: 'An access token is required: Authorization: Bearer <token>, or the access cookie.' });
  const unsafe = fromCookie !== null && isUnsafeMethod(request.method);
  if (unsafe && !originAllowed(request, browser!)) return refuse('csrf_failed', { detail: 'This origin may not send cookie-authenticated requests.' });
  const judge = (result: AuthResult): boolean => {
    // An ended session's cookies are useless: let the browser drop them.
    if (!result.ok) return refuse(result.code, { retryAfterMs: result.retryAfterMs }, fromCookie !== null && result.code === 'session_revoked');
    if (unsafe && !csrfTokenValid(core, request, result.value.sessionId)) {
      return refuse('csrf_failed', { detail: 'A cookie-authenticated request that changes state needs the X-CSRF-Token header of its session.' });
    }
    if (fromCookie !== null) byCookie.add(request);
    request.auth = result.value;
    return true;
  };
  const answer = core.authenticate(token);
  // A promise when the store is asked (strict mode, opaque handles, a lapsed lease); plain otherwise.
  return answer instanceof Promise ? answer.then(judge) : judge(answer);
}
