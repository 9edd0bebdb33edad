import type { ClientRequestInit, Transport } from './client-options.ts';

const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The header transport's tokens, kept in the page's memory. */
export interface HeaderTokens {
  accessToken: string;
  refreshToken: string;
  /** `DPoP` for a token bound to the client's key, else `Bearer`. */
  scheme: 'Bearer' | 'DPoP';
}

/**
 * How a request is sent: `session` carries the session's credentials (and proof when the session
 * is DPoP-bound), `sign-in` starts or refreshes one (cookies, and a proof whenever a key is held,
 * never the access token), `anonymous` goes to a foreign origin with nothing.
 */
export type SendAs = 'session' | 'sign-in' | 'anonymous';

/** What a request may carry of the session. */
export interface SessionCredentials {
  readonly transport: Transport;
  /** Header transport: the tokens, when signed in. */
  readonly tokens: HeaderTokens | null;
  /** Cookie transport: the session's CSRF token, when signed in. */
  readonly csrfToken: string | null;
}

/** A request ready for `fetch`, and the access token it carries in its `Authorization` header (if any). */
export interface PreparedRequest {
  readonly request: RequestInit & { method: string; headers: Headers };
  readonly accessToken: string | undefined;
}

/**
 * Builds the `fetch` options of a request: the JSON body, and unless `anonymous`, the session's
 * credentials: the token in `Authorization` (header transport, `session` requests, unless the
 * caller set one), or cookies and, on state changes, the CSRF header (cookie transport).
 */
export function prepareRequest(init: ClientRequestInit, as: SendAs, session: SessionCredentials): PreparedRequest {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  const method = (rest.method ?? 'GET').toUpperCase();
  if (json !== undefined) headers.set('content-type', 'application/json');
  const body = json !== undefined ? { body: JSON.stringify(json) } : {};
  if (as === 'anonymous') return { request: { ...rest, method, headers, ...body }, accessToken: undefined };
  let accessToken: string | undefined;
  if (as === 'session' && session.transport === 'header' && session.tokens && !headers.has('authorization')) {
    accessToken = session.tokens.accessToken;
    headers.set('authorization', `${session.tokens.scheme} ${accessToken}`);
  }
  if (session.transport === 'cookie' && session.csrfToken !== null && unsafeMethods.has(method) && !headers.has('x-csrf-token')) headers.set('x-csrf-token', session.csrfToken);
  // Cookies go to the API also when it is on another origin (CORS with credentials); never elsewhere.
  const credentials: RequestInit['credentials'] = session.transport === 'cookie' ? 'include' : 'same-origin';
  return { request: { credentials, ...rest, method, headers, ...body }, accessToken };
}
