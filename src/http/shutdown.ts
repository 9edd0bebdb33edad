import type { FastifyInstance } from 'fastify';
import { sendProblem } from './problem.ts';

/**
 * Graceful closing for `app.close()`. Once it has begun, every new request gets 503 problem+json
 * (Fastify's own `return503OnClosing` answer is plain JSON) so that a load balancer retries it
 * elsewhere, and every response, the answers to requests in flight included, carries
 * `Connection: close`: a keep-alive client would otherwise hold its idle connection, and the
 * shutdown with it, open until the keep-alive timeout.
 * Call on the root instance, before routes, so the hooks cover every route and the 404 handler.
 */
export function refuseWhileClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    return sendProblem(reply, 'service_unavailable', { detail: 'The server is shutting down; retry on another instance.', retryAfterMs: 1000 });
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
}
