import type { Metrics } from '../metrics.ts';
import type { RouteSet } from './route-context.ts';

/** `GET /metrics`: Prometheus metrics (restrict the path at your proxy). */
export function metricsRoutes(metrics: Metrics): RouteSet {
  return {
    routes: [
      {
        method: 'GET',
        url: '/metrics',
        group: 'plain',
        body: 'none',
        schema: { hide: true },
        handler: async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
      },
    ],
  };
}
