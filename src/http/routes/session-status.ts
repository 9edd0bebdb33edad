import { TokenstileError } from '../../core/errors.ts';
import { bearerToken } from '../authenticate.ts';
import { headerValue } from '../client-auth.ts';
import { accessCookie, clearSessionCookies, refreshCookie } from '../cookie-transport.ts';
import * as s from '../schemas.ts';
import type { RouteDefinition } from '../http-types.ts';
import type { RouteContext, RouteSet } from './route-context.ts';

/** Why a status answer is not signed in; the codes are the ones the other routes would answer with. */
type SignedOutReason = 'no_session' | 'invalid_token' | 'token_expired' | 'session_revoked' | 'invalid_refresh_token';

/** The body of `GET /auth/refresh/status`. */
interface SessionStatus {
  readonly signedIn: boolean;
  readonly refreshable: boolean;
  readonly sessionId: string | null;
  readonly reason: SignedOutReason | null;
}

/**
 * `GET /auth/refresh/status`: whether the caller is signed in, answered `200` either way, so that a
 * page can look before it acts and a signed-out visitor sees no error. It lives under the refresh
 * path because the browser sends the refresh cookie there only.
 *
 * - A valid access token (Bearer, or the access cookie): `signedIn: true`.
 * - Otherwise, a refresh cookie whose session is live: `refreshable: true` (POST /auth/refresh next).
 * - Otherwise `reason` says why, and any session cookie is expired.
 *
 * Spends nothing and changes nothing server-side, so it needs no CSRF token.
 */
export function sessionStatusRoutes({ core, browser }: RouteContext): RouteSet {
  const route: RouteDefinition = {
    method: 'GET',
    url: '/auth/refresh/status',
    group: 'api',
    body: 'json',
    schema: {
      tags: ['auth'],
      summary: 'Is this browser (or token) signed in? 200 either way',
      description: 'Cookie transport: sent with both cookies. `refreshable`: the access token is gone or expired but `POST /auth/refresh` will succeed.',
      response: { 200: s.sessionStatusResponse, 503: s.problemResponse },
    },
    handler: async (request, reply): Promise<SessionStatus> => {
      const header = headerValue(request.headers.authorization);
      const fromCookie = header === undefined ? accessCookie(request) : null;
      const token = header === undefined ? fromCookie : bearerToken(header);
      let reason: SignedOutReason = header === undefined ? 'no_session' : 'invalid_token';
      if (token !== null) {
        const answer = core.authenticate(token);
        const result = answer instanceof Promise ? await answer : answer;
        if (result.ok) {
          // A DPoP-bound token sent as Bearer is refused by every route (it needs its proof): so here
          // too, or a stolen one would learn here that it is live, and its session id.
          if (header === undefined || result.value.claims.cnf === undefined) return { signedIn: true, refreshable: false, sessionId: result.value.sessionId, reason: null };
        } else if (result.code === 'service_unavailable') throw new TokenstileError('service_unavailable', 'The session cannot be checked right now.');
        else reason = result.code === 'token_expired' || result.code === 'session_revoked' ? result.code : 'invalid_token';
      }
      const refresh = header === undefined && reason !== 'session_revoked' ? refreshCookie(request) : null;
      if (refresh !== null) {
        const found = await core.introspect(refresh);
        if (found === 'unavailable') throw new TokenstileError('service_unavailable', 'The session cannot be checked right now.');
        if (found.active) return { signedIn: false, refreshable: true, sessionId: found.sid, reason: null };
        reason = 'invalid_refresh_token';
      }
      // The cookies of an ended session are useless: let the browser drop them.
      if (fromCookie !== null || refresh !== null) clearSessionCookies(reply, browser);
      return { signedIn: false, refreshable: false, sessionId: null, reason };
    },
  };
  return { routes: [route] };
}
