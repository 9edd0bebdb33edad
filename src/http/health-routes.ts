import type { FastifyInstance } from 'fastify';
import { sendProblem } from './problem.ts';

/** `/healthz` (the process is up) and `/readyz` (its stores answer). */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  const schema = { tags: ['health'] };
  app.get('/healthz', { schema: { ...schema, summary: 'Liveness' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { ...schema, summary: 'Readiness: the stores answer' } }, async (request, reply) => {
    try {
      await app.tokenstile.stores.ping();
      return { status: 'ok', store: app.tokenstile.stores.kind };
    } catch (err) {
      request.log.warn({ err: { message: (err as Error).message } }, 'tokenstile: store ping failed');
      return sendProblem(reply, 'service_unavailable');
    }
  });
}
