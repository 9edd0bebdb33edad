import type { IssuedTokens, PublicUser } from '../../core/context.ts';
import type { Result } from '../../core/errors.ts';
import type { LogoutScope } from '../../core/sessions.ts';
import { authOf, isCookieAuthenticated } from '../authenticate.ts';
import { browserSession, clearSessionCookies, refreshCookie, setSessionCookies, wantsCookies } from '../cookie-transport.ts';
import { csrfTokenValid, originAllowed } from '../csrf.ts';
import type { HttpReply, HttpRequest, RouteDefinition } from '../http-types.ts';
import { device, setDeviceCookie } from '../request-device.ts';
import { checkSignInProof } from '../dpop.ts';
import { failureDetails, sendProblem, sendRefusal } from '../problem.ts';
import * as s from '../schemas.ts';
import { errorResponses as errors, type RouteContext, type RouteSet } from './route-context.ts';
import { internals } from '../../core/core-internals.ts';
import { recentAuthGuard } from '../../features/mfa/step-up.ts';

const tags = ['auth'];
const security = [{ bearerAuth: [] }];

function tokenResponse(t: IssuedTokens) {
  return t;
}

/** Requests to `/auth/refresh` whose refresh token came from the cookie. */
const refreshByCookie = new WeakSet<HttpRequest>();

/**
 * How every sign-in route answers (the password, a second factor, a passkey): one path, so that
 * they all treat the cookie transport alike.
 */
export function signInAnswers({ core, browser, prefix }: Pick<RouteContext, 'core' | 'browser' | 'prefix'>) {
  /** Answers freshly issued tokens in the transport the request uses. */
  const issued = (reply: HttpReply, tokens: IssuedTokens, cookies: boolean) => {
    if (!cookies) return tokenResponse(tokens);
    setSessionCookies(reply, tokens, browser);
    return browserSession(core, tokens);
  };
  return {
    issued,
    /** The route's `preHandler`: checks the request's DPoP proof, binding the session it starts to the key (RFC 9449 §5). */
    proof: (request: HttpRequest, reply: HttpReply) => checkSignInProof(core, request, reply),
    /** Login-CSRF: a cookie-transport sign-in must come from an allowed origin (Origin / Sec-Fetch-Site). */
    refuseForeign: (request: HttpRequest, reply: HttpReply) =>
      wantsCookies(request) && !originAllowed(request, browser)
        ? sendProblem(reply, 'csrf_failed', { detail: 'This origin may not sign in with the cookie transport.' })
        : null,
    /** Answers a new session's tokens: in the body, or (cookie transport) as cookies, with the device cookie. */
    answer(request: HttpRequest, reply: HttpReply, tokens: IssuedTokens) {
      const cookies = wantsCookies(request);
      // A browser is now known to the account: its later sign-ins are throttled apart from others'.
      // (Header clients get no cookie, as the contract says; they are told apart by IP.)
      if (cookies) setDeviceCookie(reply, core.deviceProof(tokens.user.email, device(request).deviceProof), `${prefix}/auth/login`);
      return issued(reply, tokens, cookies);
    },
  };
}

/** `/auth/register`, `/auth/login`, `/auth/refresh`, `/auth/logout`, `/auth/me`, `/auth/password`. */
export function authRoutes(context: RouteContext): RouteSet {
  const { core, browser } = context;
  const signIn = signInAnswers(context);
  const refuseForeignLogin = signIn.refuseForeign;
  const issued = signIn.issued;
  const stepUp = recentAuthGuard(core);
  /** The `/auth/me` body: the user plus the caller's session id. */
  const me = (request: HttpRequest, reply: HttpReply, user: Result<PublicUser, 'invalid_request' | 'session_revoked'>) =>
    user.ok ? { ...user.value, sessionId: authOf(request).sessionId } : sendProblem(reply, user.code, failureDetails(user));
  const api = { group: 'api', body: 'json' } as const;

  const routes: RouteDefinition[] = [
    {
      ...api,
      method: 'POST',
      url: '/auth/register',
      schema: { tags, summary: 'Create an account', body: s.registerBody, response: { 201: s.userResponse, ...errors(400, 409, 413, 429) } },
      handler: async (request, reply) => {
        const refused = refuseForeignLogin(request, reply);
        if (refused) return refused;
        const r = await core.register(request.body as { email: string; password: string; name?: string | null }, device(request));
        if (!r.ok) return sendProblem(reply, r.code, failureDetails(r));
        return reply.code(201).send({ user: r.value });
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/login',
      schema: {
        tags,
        summary: 'Sign in: a new session with its first tokens',
        description: 'With `Tokenstile-Transport: cookie`, the tokens are set as HttpOnly cookies and the body carries the CSRF token instead.',
        headers: s.transportHeaders,
        body: s.loginBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403, 429) },
      },
      preHandler: signIn.proof,
      handler: async (request, reply) => {
        const refused = refuseForeignLogin(request, reply);
        if (refused) return refused;
        const r = await core.login(request.body as { email: string; password: string }, device(request));
        if (!r.ok) return 'details' in r ? sendRefusal(reply, r) : sendProblem(reply, r.code, failureDetails(r));
        return signIn.answer(request, reply, r.value);
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/refresh',
      schema: {
        tags,
        summary: 'Rotate a refresh token',
        description: 'Cookie transport: no body (or `{}`), the refresh cookie and `X-CSRF-Token`; the cookies are re-set. A DPoP-bound session (RFC 9449) rotates only with a `DPoP` proof by its key: 400 `invalid_dpop_proof` otherwise, and the refresh token is not spent.',
        headers: s.transportHeaders,
        body: s.refreshBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403, 429) },
      },
      // Without a token in the body, the refresh cookie supplies it (cookie transport).
      preValidation: (request) => {
        const body = request.body as Record<string, unknown> | undefined;
        const empty = body === undefined || (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
        const fromCookie = empty ? refreshCookie(request) : null;
        if (fromCookie === null) return;
        request.body = { refreshToken: fromCookie };
        refreshByCookie.add(request);
      },
      preHandler: signIn.proof,
      handler: async (request, reply) => {
        const cookies = refreshByCookie.has(request);
        const token = (request.body as { refreshToken: string }).refreshToken;
        if (cookies) {
          // Checked before anything is spent: a forged request rotates nothing.
          const sessionId = internals(core).refreshTokenSession(token);
          if (!originAllowed(request, browser) || (sessionId !== null && !csrfTokenValid(core, request, sessionId))) {
            return sendProblem(reply, 'csrf_failed', { detail: 'A cookie refresh needs an allowed origin and the X-CSRF-Token header of its session.' });
          }
        }
        const r = await core.refresh(token, device(request));
        if (!r.ok) {
          if (cookies && r.code !== 'too_many_requests') clearSessionCookies(reply, browser);
          return sendProblem(reply, r.code, failureDetails(r));
        }
        return issued(reply, r.value, cookies);
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/logout',
      schema: { tags, security, summary: 'End this session, all sessions, or all others', body: s.logoutBody, response: { 204: s.noContent, ...errors(400, 401) } },
      authenticate: true,
      // The body is optional: no body means scope "local" (a JSON null is a body, and not an object).
      preValidation: (request) => {
        if (request.body === undefined) request.body = {};
      },
      handler: async (request, reply) => {
        const scope = (request.body as { scope?: LogoutScope } | undefined)?.scope ?? 'local';
        await core.logout(authOf(request), scope, device(request));
        // Revoked first, then the cookies expire: never the one without the other.
        if (isCookieAuthenticated(request) && scope !== 'others') clearSessionCookies(reply, browser);
        return reply.code(204).send();
      },
    },
    {
      ...api,
      method: 'GET',
      url: '/auth/me',
      schema: { tags, security, summary: 'The signed-in user', response: { 200: s.meResponse, ...errors(401) } },
      authenticate: true,
      handler: async (request, reply) => me(request, reply, await core.profile(authOf(request))),
    },
    {
      ...api,
      method: 'PATCH',
      url: '/auth/me',
      schema: { tags, security, summary: 'Change the display name', body: s.updateMeBody, response: { 200: s.meResponse, ...errors(400, 401) } },
      authenticate: true,
      handler: async (request, reply) => me(request, reply, await core.updateProfile(authOf(request), request.body as { name: string | null })),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/password',
      schema: { tags, security, summary: 'Change the password; every other session ends', description: 'Needs a sign-in within 5 minutes (else 403 reauthentication_required: see POST /auth/reauthenticate).', body: s.passwordBody, response: { 204: s.noContent, ...errors(400, 401, 403, 429) } },
      authenticate: true,
      handler: async (request, reply) => {
        // Step-up: a password change needs a sign-in (or re-authentication) within 5 minutes.
        const recent = await stepUp?.(authOf(request));
        if (recent && !recent.ok) return sendProblem(reply, recent.code);
        const r = await core.changePassword(authOf(request), request.body as { currentPassword: string; newPassword: string }, device(request));
        if (!r.ok) return sendProblem(reply, r.code, failureDetails(r));
        return reply.code(204).send();
      },
    },
  ];
  return { routes };
}
