import type { Tokenstile } from '../core/tokenstile.ts';
import type { BrowserConfig } from './browser-options.ts';
import { csrfHeader } from './cookie-transport.ts';
import type { HttpRequest } from './http-types.ts';
import { internals } from '../core/core-internals.ts';

/** Methods that change state and so need the CSRF checks when authenticated by cookie. */
const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** True for a method that must pass the CSRF checks when authenticated by cookie. */
export function isUnsafeMethod(method: string): boolean {
  return unsafeMethods.has(method.toUpperCase());
}

/** The origin the request was sent to, as the adapter sees it (honours `trustProxy`). */
function ownOrigin(request: HttpRequest): string | null {
  try {
    return new URL(`${request.protocol}://${request.host}`).origin;
  } catch {
    return null;
  }
}

/**
 * The browser's word on where the request comes from. With an `Origin` header, it must be the
 * request's own origin or an allowed one. Without one, `Sec-Fetch-Site` (Fetch Metadata), when
 * sent, must be `same-origin` (or `none`: typed by the user, not sent by a page). A client that
 * sends neither (not a browser, or a very old one) passes this check; the CSRF token still applies.
 */
export function originAllowed(request: HttpRequest, config: BrowserConfig): boolean {
  const origin = request.headers.origin;
  if (origin !== undefined) {
    // "null" (sandboxed frames, opaque redirects) is never allowed.
    if (typeof origin !== 'string' || origin === 'null') return false;
    return config.allowedOrigins.has(origin) || origin === ownOrigin(request);
  }
  const site = request.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

/** True when the request carries session `sessionId`'s CSRF token in `X-CSRF-Token`. */
export function csrfTokenValid(core: Tokenstile, request: HttpRequest, sessionId: string): boolean {
  return internals(core).csrf.matches(sessionId, request.headers[csrfHeader]);
}
