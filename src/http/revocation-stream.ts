import type { FastifyInstance } from 'fastify';
import type { ClientRegistry } from '../core/clients.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { registerRouteSet } from './fastify-routes.ts';
import { internals } from '../core/core-internals.ts';
import { revocationStreamRoutes as streamRoutes, type RevocationFeedInternals, type RevocationStreamOptions } from '../features/revocation-stream/revocation-stream-routes.ts';

export type { RevocationStreamOptions } from '../features/revocation-stream/revocation-stream-routes.ts';

/**
 * The revocation stream's routes alone as a Fastify plugin (the full server registers them with
 * the rest of the route table): `GET /revocations/stream` and `POST /revocations/stream/ack`.
 */
export async function revocationStreamRoutes(app: FastifyInstance, opts: { core: Tokenstile; feed?: RevocationFeedInternals; clients: ClientRegistry; stream?: RevocationStreamOptions }): Promise<void> {
  await registerRouteSet(app, streamRoutes({ ...opts, feed: opts.feed ?? internals(opts.core) }));
}
