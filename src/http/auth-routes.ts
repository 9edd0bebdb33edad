import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IssuedTokens, PublicUser } from '../core/context.ts';
import type { Result } from '../core/errors.ts';
import type { LogoutScope } from '../core/sessions.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { authOf, type AuthenticateHook } from './authenticate.ts';
import { device } from './request-device.ts';
import { sendProblem } from './problem.ts';
import * as s from './schemas.ts';

const tags = ['auth'];
const security = [{ bearerAuth: [] }];

function tokenResponse(t: IssuedTokens) {
  return { tokenType: 'Bearer' as const, ...t };
}


function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((n) => [n, s.problemResponse]));
}

/** `/auth/register`, `/auth/login`, `/auth/refresh`, `/auth/logout`, `/auth/me`, `/auth/password`. */
export async function authRoutes(app: FastifyInstance, opts: { core: Tokenstile; authenticate: AuthenticateHook }): Promise<void> {
  const { core, authenticate } = opts;

  app.post<{ Body: { email: string; password: string; name?: string | null } }>(
    '/auth/register',
    { schema: { tags, summary: 'Create an account', body: s.registerBody, response: { 201: s.userResponse, ...errors(400, 409, 413, 429) } } },
    async (request, reply) => {
      const r = await core.register(request.body, device(request));
      if (!r.ok) return sendProblem(reply, r.code, { retryAfterMs: r.retryAfterMs });
      return reply.code(201).send({ user: r.value });
    },
  );

  app.post<{ Body: { email: string; password: string } }>(
    '/auth/login',
    { schema: { tags, summary: 'Sign in: a new session with its first tokens', body: s.loginBody, response: { 200: s.tokenResponse, ...errors(400, 401, 403, 429) } } },
    async (request, reply) => {
      const r = await core.login(request.body, device(request));
      if (!r.ok) return sendProblem(reply, r.code, { retryAfterMs: r.retryAfterMs });
      return tokenResponse(r.value);
    },
  );

  app.post<{ Body: { refreshToken: string } }>(
    '/auth/refresh',
    { schema: { tags, summary: 'Rotate a refresh token', body: s.refreshBody, response: { 200: s.tokenResponse, ...errors(400, 401, 429) } } },
    async (request, reply) => {
      const r = await core.refresh(request.body.refreshToken, device(request));
      if (!r.ok) return sendProblem(reply, r.code, { retryAfterMs: r.retryAfterMs });
      return tokenResponse(r.value);
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
      await core.logout(authOf(request), request.body?.scope ?? 'local', device(request));
      return reply.code(204).send();
    },
  );

  /** The `/auth/me` body: the user plus the caller's session id. */
  const me = (request: FastifyRequest, reply: FastifyReply, user: Result<PublicUser, 'invalid_request' | 'session_revoked'>) =>
    user.ok ? { ...user.value, sessionId: authOf(request).sessionId } : sendProblem(reply, user.code);

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
      if (!r.ok) return sendProblem(reply, r.code, { retryAfterMs: r.retryAfterMs });
      return reply.code(204).send();
    },
  );
}
