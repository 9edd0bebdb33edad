import type { FastifyInstance } from 'fastify';
import type { Tokenstile } from '../core/tokenstile.ts';

/** `GET /.well-known/jwks.json`. */
export async function wellKnownRoutes(app: FastifyInstance, opts: { core: Tokenstile }): Promise<void> {
  app.get(
    '/.well-known/jwks.json',
    { schema: { tags: ['keys'], summary: 'Public signing keys (RFC 7517)' } },
    async (_request, reply) => {
      // Short caching: a rotated-in key must reach verifiers well before it signs.
      reply.header('cache-control', 'public, max-age=300');
      return opts.core.jwks();
    },
  );
}
