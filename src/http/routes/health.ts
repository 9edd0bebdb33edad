import type { Logger } from '../../core/config.ts';
import { sendProblem } from '../problem.ts';
import type { RouteContext, RouteSet } from './route-context.ts';
import { internals } from '../../core/core-internals.ts';

/** `/healthz` (the process is up) and `/readyz` (its stores answer). */
export function healthRoutes({ core }: Pick<RouteContext, 'core'>, logger?: Logger): RouteSet {
  const tags = ['health'];
  return {
    routes: [
      { method: 'GET', url: '/healthz', group: 'plain', body: 'none', schema: { tags, summary: 'Liveness' }, handler: async () => ({ status: 'ok' }) },
      {
        method: 'GET',
        url: '/readyz',
        group: 'plain',
        body: 'none',
        schema: { tags, summary: 'Readiness: the stores answer' },
        handler: async (_request, reply) => {
          try {
            await internals(core).stores.ping();
            return { status: 'ok', store: internals(core).stores.kind };
          } catch (err) {
            logger?.warn({ err: { message: (err as Error).message } }, 'tokenstile: store ping failed');
            return sendProblem(reply, 'service_unavailable');
          }
        },
      },
    ],
  };
}
