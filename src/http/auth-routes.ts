import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IssuedTokens, PublicUser } from '../core/context.ts';
import type { Result } from '../core/errors.ts';
import type { LogoutScope } from '../core/sessions.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { authOf, isCookieAuthenticated, type AuthenticateHook } from './authenticate.ts';
import type { BrowserConfig } from './browser-options.ts';
import { browserSession, clearSessionCookies, refreshCookie, setSessionCookies, wantsCookies } from './cookie-transport.ts';
import { csrfTokenValid, originAllowed } from './csrf.ts';
import { device, setDeviceCookie } from './request-device.ts';
import { failureDetails, sendProblem } from './problem.ts';
import * as s from './schemas.ts';

const tags = ['auth'];
const security = [{ bearerAuth: [] }];

function tokenResponse(t: IssuedTokens) {
  return { tokenType: 'Bearer' as const, ...t };
}

/** Requests to `/auth/refresh` whose refresh token came from the cookie. */
const refreshByCookie = new WeakSet<FastifyRequest>();

function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((n) => [n, s.problemResponse]));
}

/** `/auth/register`, `/auth/login`, `/auth/refresh`, `/auth/logout`, `/auth/me`, `/auth/password`. */
export async function authRoutes(app: FastifyInstance, opts: { core: Tokenstile; authenticate: AuthenticateHook; browser: BrowserConfig }): Promise<void> {
  const { core, authenticate, browser } = opts;
  /** Login-CSRF: a cookie-transport sign-in must come from an allowed origin (Origin / Sec-Fetch-Site). */
  const refuseForeignLogin = (request: FastifyRequest, reply: FastifyReply) =>
    wantsCookies(request) && !originAllowed(request, browser)
      ? sendProblem(reply, 'csrf_failed', { detail: 'This origin may not sign in with the cookie transport.' })
      : null;
  /** Answers freshly issued tokens in the transport the request uses. */
  const issued = (reply: FastifyReply, tokens: IssuedTokens, cookies: boolean) => {
    if (!cookies) return tokenResponse(tokens);
    setSessionCookies(reply, tokens, browser);
    return browserSession(core, tokens);
  };

  app.post<{ Body: { email: string; password: string; name?: string | null } }>(
    '/auth/register',
    { schema: { tags, summary: 'Create an account', body: s.registerBody, response: { 201: s.userResponse, ...errors(400, 409, 413, 429) } } },
    async (request, reply) => {
      const refused = refuseForeignLogin(request, reply);
      if (refused) return refused;
      const r = await core.register(request.body, device(request));
      if (!r.ok) return sendProblem(reply, r.code, failureDetails(r));
      return reply.code(201).send({ user: r.value });
    },
  );

  app.post<{ Body: { email: string; password: string } }>(
    '/auth/login',
    {
      schema: {
        tags,
        summary: 'Sign in: a new session with its first tokens',
        description: 'With `Tokenstile-Transport: cookie`, the tokens are set as HttpOnly cookies and the body carries the CSRF token instead.',
        headers: s.transportHeaders,
        body: s.loginBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const refused = refuseForeignLogin(request, reply);
      if (refused) return refused;
      const from = device(request);
      const r = await core.login(request.body, from);
      if (!r.ok) return sendProblem(reply, r.code, failureDetails(r));
      const cookies = wantsCookies(request);
      // A browser is now known to the account: its later sign-ins are throttled apart from others'.
      // (Header clients get no cookie, as the contract says; they are told apart by IP.)
      if (cookies) setDeviceCookie(reply, core.deviceProof(r.value.user.email, from.deviceProof), request.routeOptions.url ?? '/auth/login');
      return issued(reply, r.value, cookies);
    },
  );

  app.post<{ Body: { refreshToken: string } }>(
    '/auth/refresh',
    {
      schema: {
        tags,
        summary: 'Rotate a refresh token',
        description: 'Cookie transport: no body (or `{}`), the refresh cookie and `X-CSRF-Token`; the cookies are re-set.',
        body: s.refreshBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403, 429) },
      },
      // Without a token in the body, the refresh cookie supplies it (cookie transport).
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | undefined;
        const empty = body === undefined || (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
        const fromCookie = empty ? refreshCookie(request) : null;
        if (fromCookie === null) return;
        request.body = { refreshToken: fromCookie };
        refreshByCookie.add(request);
      },
    },
    async (request, reply) => {
      const cookies = refreshByCookie.has(request);
      const token = request.body.refreshToken;
      if (cookies) {
        // Checked before anything is spent: a forged request rotates nothing.
        const sessionId = core.refreshTokenSession(token);
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
  );

  app.post<{ Body: { scope?: LogoutScope } | undefined }>(
    '/auth/logout',
    {
      schema: { tags, security, summary: 'End this session, all sessions, or all others', body: s.logoutBody, response: { 204: s.noContent, ...errors(400, 401) } },
      onRequest: authenticate,
      // The body is optional: no body means scope "local" (a JSON null is a body, and not an object).
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request, reply) => {
      const scope = request.body?.scope ?? 'local';
      await core.logout(authOf(request), scope, device(request));
      // Revoked first, then the cookies expire: never the one without the other.
      if (isCookieAuthenticated(request) && scope !== 'others') clearSessionCookies(reply, browser);
      return reply.code(204).send();
    },
  );

  /** The `/auth/me` body: the user plus the caller's session id. */
  const me = (request: FastifyRequest, reply: FastifyReply, user: Result<PublicUser, 'invalid_request' | 'session_revoked'>) =>
    user.ok ? { ...user.value, sessionId: authOf(request).sessionId } : sendProblem(reply, user.code, failureDetails(user));

  app.get(
    '/auth/me',
    { schema: { tags, security, summary: 'The signed-in user', response: { 200: s.meResponse, ...errors(401) } }, onRequest: authenticate },
    async (request, reply) => me(request, reply, await core.profile(authOf(request))),
  );

  app.patch<{ Body: { name: string | null } }>(
    '/auth/me',
    { schema: { tags, security, summary: 'Change the display name', body: s.updateMeBody, response: { 200: s.meResponse, ...errors(400, 401) } }, onRequest: authenticate },
    async (request, reply) => me(request, reply, await core.updateProfile(authOf(request), request.body)),
  );

  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    '/auth/password',
    {
      schema: { tags, security, summary: 'Change the password; every other session ends', body: s.passwordBody, response: { 204: s.noContent, ...errors(400, 401, 429) } },
      onRequest: authenticate,
    },
    async (request, reply) => {
      const r = await core.changePassword(authOf(request), request.body, device(request));
      if (!r.ok) return sendProblem(reply, r.code, failureDetails(r));
      return reply.code(204).send();
    },
  );
}
