import type { FastifyInstance } from 'fastify';
import type { Tokenstile } from '../core/tokenstile.ts';
import { authOf, type AuthenticateHook } from './authenticate.ts';
import { device } from './request-device.ts';
import { sendProblem } from './problem.ts';
import * as s from './schemas.ts';

const tags = ['sessions'];
const security = [{ bearerAuth: [] }];

/** `GET /auth/sessions` and `DELETE /auth/sessions/:id`. */
export async function sessionRoutes(app: FastifyInstance, opts: { core: Tokenstile; authenticate: AuthenticateHook }): Promise<void> {
  const { core, authenticate } = opts;

  app.get(
    '/auth/sessions',
    { schema: { tags, security, summary: "The caller's live sessions (devices)", response: { 200: s.sessionsResponse, 401: s.problemResponse } }, onRequest: authenticate },
    async (request) => ({ sessions: await core.listSessions(authOf(request)) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/auth/sessions/:id',
    {
      schema: { tags, security, summary: 'End one of your sessions', params: s.sessionParams, response: { 204: s.noContent, 401: s.problemResponse, 404: s.problemResponse } },
      onRequest: authenticate,
    },
    async (request, reply) => {
      const r = await core.revokeSession(authOf(request), request.params.id, device(request));
      if (!r.ok) return sendProblem(reply, r.code, { detail: 'No live session of yours has this id.' });
      return reply.code(204).send();
    },
  );
}
