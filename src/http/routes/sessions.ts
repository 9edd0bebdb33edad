import { authOf } from '../authenticate.ts';
import { device } from '../request-device.ts';
import { sendProblem } from '../problem.ts';
import * as s from '../schemas.ts';
import type { RouteContext, RouteSet } from './route-context.ts';

const tags = ['sessions'];
const security = [{ bearerAuth: [] }];

/** `GET /auth/sessions` and `DELETE /auth/sessions/:id`. */
export function sessionRoutes({ core }: RouteContext): RouteSet {
  return {
    routes: [
      {
        method: 'GET',
        url: '/auth/sessions',
        group: 'api',
        body: 'json',
        authenticate: true,
        schema: { tags, security, summary: "The caller's live sessions (devices)", response: { 200: s.sessionsResponse, 401: s.problemResponse } },
        handler: async (request) => ({ sessions: await core.listSessions(authOf(request)) }),
      },
      {
        method: 'DELETE',
        url: '/auth/sessions/:id',
        group: 'api',
        body: 'json',
        authenticate: true,
        schema: { tags, security, summary: 'End one of your sessions', params: s.sessionParams, response: { 204: s.noContent, 401: s.problemResponse, 404: s.problemResponse } },
        handler: async (request, reply) => {
          const r = await core.revokeSession(authOf(request), (request.params as { id: string }).id, device(request));
          if (!r.ok) return sendProblem(reply, r.code, { detail: 'No live session of yours has this id.' });
          return reply.code(204).send();
        },
      },
    ],
  };
}
