import type { IssuedTokens, PublicUser } from '../core/context.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { BrowserConfig } from './browser-options.ts';
import type { HttpReply, HttpRequest } from './http-types.ts';
import { internals } from '../core/core-internals.ts';

/** Access-token cookie: `__Host-` (Secure, no Domain, Path=/), HttpOnly. */
export const accessCookieName = '__Host-tokenstile-access';
/** Refresh-token cookie: `__Secure-`, HttpOnly, sent only to the refresh route. */
export const refreshCookieName = '__Secure-tokenstile-refresh';
/** The request header that selects the cookie transport on login. */
export const transportHeader = 'tokenstile-transport';
/** The request header that carries the session's CSRF token. */
export const csrfHeader = 'x-csrf-token';

/** What a cookie-transport login or refresh answers instead of the tokens. */
export interface BrowserSession {
  readonly csrfToken: string;
  /** `DPoP` when the session is bound to a DPoP key (each request still needs a proof); absent otherwise. */
  readonly tokenType?: 'DPoP';
  readonly expiresIn: number;
  readonly session: { readonly id: string };
  readonly user: PublicUser;
}

/** True when the request asks for the cookie transport (`Tokenstile-Transport: cookie`). */
export function wantsCookies(request: HttpRequest): boolean {
  const value = request.headers[transportHeader];
  return typeof value === 'string' && value.trim().toLowerCase() === 'cookie';
}

/** A cookie's value, or null when absent or empty. */
function cookie(request: HttpRequest, name: string): string | null {
  const value = request.cookies?.[name];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** The access token carried by the access cookie, or null. */
export function accessCookie(request: HttpRequest): string | null {
  return cookie(request, accessCookieName);
}

/** The refresh token carried by the refresh cookie, or null. */
export function refreshCookie(request: HttpRequest): string | null {
  return cookie(request, refreshCookieName);
}

/**
 * Sets both cookies for freshly issued tokens; their Max-Age is each token's lifetime. The refresh
 * cookie is always SameSite=Strict: only the page's own fetch calls need it.
 */
export function setSessionCookies(reply: HttpReply, tokens: IssuedTokens, config: BrowserConfig): void {
  reply.setCookie(accessCookieName, tokens.accessToken, { path: '/', httpOnly: true, secure: true, sameSite: config.sameSite, maxAge: tokens.expiresIn });
  reply.setCookie(refreshCookieName, tokens.refreshToken, { path: config.refreshPath, httpOnly: true, secure: true, sameSite: 'strict', maxAge: tokens.refreshExpiresIn });
}

/** Expires both cookies (`Max-Age=0`). Only ever sent together with a server-side revocation or a refused session. */
export function clearSessionCookies(reply: HttpReply, config: BrowserConfig): void {
  reply.clearCookie(accessCookieName, { path: '/', httpOnly: true, secure: true, sameSite: config.sameSite });
  reply.clearCookie(refreshCookieName, { path: config.refreshPath, httpOnly: true, secure: true, sameSite: 'strict' });
}

/** The body of a cookie-transport login or refresh: no token in it. */
export function browserSession(core: Tokenstile, tokens: IssuedTokens): BrowserSession {
  const csrfToken = internals(core).csrf.tokenFor(tokens.session.id);
  // tokenType only for a bound session: the answer of Bearer sessions stays as it always was.
  return { csrfToken, ...(tokens.tokenType === 'DPoP' && { tokenType: 'DPoP' as const }), expiresIn: tokens.expiresIn, session: tokens.session, user: tokens.user };
}
