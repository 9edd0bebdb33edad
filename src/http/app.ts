import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TokenstileOptions } from '../core/config.ts';
import type { Stores } from '../core/stores.ts';
import { healthRoutes } from './health-routes.ts';
import { bodyLimit, tokenstile } from './plugin.ts';
import { problemErrorHandler, sendProblem } from './problem.ts';

/** Options of `buildApp`: the core's options plus the server's. */
export interface BuildAppOptions extends Omit<TokenstileOptions, 'stores' | 'logger'> {
  /** Opened stores; default: opened from `databaseUrl` and closed with the app. */
  readonly stores?: Stores;
  /** Default `sqlite:./data/tokenstile.db`. */
  readonly databaseUrl?: string;
  /** Fastify's logger option. Default false. Tokens and passwords are never logged. */
  readonly logger?: FastifyServerOptions['logger'];
  /** Trust `X-Forwarded-*` from a proxy (Fastify's `trustProxy`). Default false. */
  readonly trustProxy?: FastifyServerOptions['trustProxy'];
  /** Serve the OpenAPI document and its viewer at `/docs`. Default true. */
  readonly docs?: boolean;
}

/**
 * The complete Tokenstile server as a Fastify instance, not yet listening: the contract's
 * routes, `/healthz`, `/readyz`, and OpenAPI at `/docs`. Tests call `app.inject()`.
 */
export function buildApp(options: BuildAppOptions): FastifyInstance {
  const { logger = false, trustProxy = false, docs = true, ...rest } = options;
  const app = Fastify({
    logger,
    trustProxy,
    bodyLimit,
    // Fastify's default serializers log method, URL and status: never bodies or the Authorization header.
    return503OnClosing: true,
  });
  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 'not_found', { detail: `No route ${request.method} ${request.url.split('?')[0]}.` }));
  if (docs) {
    app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Tokenstile', version: '1', description: 'JWT login with real logout.' },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      },
    });
    app.register(swaggerUi, { routePrefix: '/docs' });
  }
  app.register(tokenstile, rest);
  app.register(healthRoutes);
  return app;
}
