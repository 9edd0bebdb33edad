import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Socket } from 'node:net';
import type { TokenstileOptions } from '../core/config.ts';
import type { Stores } from '../core/stores.ts';
import type { BrowserOptions } from './browser-options.ts';
import type { FeatureEntry } from '../features/feature-entry.ts';
import { openApiInfo } from './openapi.ts';
import { Metrics } from './metrics.ts';
import { problemErrorHandler } from './fastify-errors.ts';
import { registerRouteSet } from './fastify-routes.ts';
import { tokenstile } from './plugin.ts';
import type { ResourceServerOptions } from './resource-server-options.ts';
import { problem, sendProblem } from './problem.ts';
import { bodyLimit } from './request-body.ts';
import { accountPageRoutes } from './routes/account-page.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { refuseWhileClosing } from './shutdown.ts';
import { resolveTrustProxy, trustProxyWarning, type TrustProxy } from './trust-proxy.ts';

/** Options of `buildApp`: the core's options plus the server's. */
export interface BuildAppOptions extends Omit<TokenstileOptions, 'stores' | 'logger' | 'features'>, ResourceServerOptions, BrowserOptions {
  /** The features to open and serve (see src/features/index.ts). Default: the built-in list. */
  readonly features?: readonly FeatureEntry[];
  /** Opened stores; default: opened from `databaseUrl` and closed with the app. */
  readonly stores?: Stores;
  /** Default `sqlite:./data/tokenstile.db`; `postgres://…` for several instances. */
  readonly databaseUrl?: string;
  /** Redis for the revocation feed, shared rate limits and cache (see the plugin's option). */
  readonly redisUrl?: string;
  /** Prefix of every Redis key and channel. Default `tokenstile:`. */
  readonly redisKeyPrefix?: string;
  /** Fastify's logger option. Default false. Tokens and passwords are never logged. */
  readonly logger?: FastifyServerOptions['logger'];
  /**
   * Which proxies may report the client IP in `X-Forwarded-For` (and `X-Forwarded-Proto/Host`): a
   * hop count, or their addresses/CIDRs. Default false. `true` takes the left-most entry, which
   * clients forge behind an appending proxy: it logs a warning.
   */
  readonly trustProxy?: TrustProxy;
  /** Serve the OpenAPI document and its viewer at `/docs`. Default true. */
  readonly docs?: boolean;
  /** Serve Prometheus metrics at `/metrics`. Default true; restrict the path at your proxy. */
  readonly metrics?: boolean;
  /** Serve the account page at `/account` (sign up, sign in, devices, password). Default true. */
  readonly accountPage?: boolean;
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees it (oversized headers, garbage)
 * with problem+json too, instead of Fastify's plain JSON.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify({ ...problem('invalid_request', tooLarge ? 'Request headers are too large.' : 'The HTTP request is malformed.'), status });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Fastify's logger option with request lines that name the path but not the query string: a
 * provider sends the browser back to `/auth/oauth/<id>/callback?code=…&state=…`, and that
 * authorization code must not reach the logs. A `req` serializer of the caller's own still wins.
 */
function withoutQueryInLogs(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return logger;
  const options = logger === true ? {} : logger;
  const req = (request: { method: string; url: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
    method: request.method,
    url: request.url.split('?')[0],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  });
  return { ...options, serializers: { req: req as never, ...options.serializers } };
}

/**
 * The complete Tokenstile server as a Fastify instance, not yet listening: the contract's
 * routes, `/healthz`, `/readyz`, and OpenAPI at `/docs`. Tests call `app.inject()`.
 */
export function buildApp(options: BuildAppOptions): FastifyInstance {
  const { logger = false, trustProxy = false, docs = true, metrics: withMetrics = true, accountPage = true, onEvent, ...rest } = options;
  const proxies = resolveTrustProxy(trustProxy);
  const app = Fastify({
    logger: withoutQueryInLogs(logger),
    // A hop count as the function Fastify makes of one (its types take no number): hop 0 is the peer.
    trustProxy: typeof proxies === 'number' ? (_address: string, hop: number) => hop < proxies : proxies,
    bodyLimit,
    // Request lines log method, path (no query: withoutQueryInLogs) and status: never bodies or the Authorization header.
    // Requests arriving while closing get 503 problem+json from refuseWhileClosing instead.
    return503OnClosing: false,
    clientErrorHandler,
    // Errors Fastify answers before any handler runs (bad URL encoding, an over-long path
    // parameter) get problem+json too; a parameter too long to be any id simply matches nothing.
    // These answers skip the onSend hooks, so they get the nosniff header every answer carries here.
    frameworkErrors: (err, _request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      return err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? sendProblem(reply, 'not_found') : sendProblem(reply, 'invalid_request', { detail: 'The request URL is malformed.' });
    },
  });
  app.setErrorHandler(problemErrorHandler);
  refuseWhileClosing(app);
  const proxyWarning = trustProxyWarning(proxies);
  if (proxyWarning !== null) app.log.warn(proxyWarning);
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      // HTML: the API viewer at /docs (its own scripts and styles, never framed) and the account
      // page, which sets a stricter policy of its own.
      if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'");
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
    }
    return payload;
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 'not_found', { detail: `No route ${request.method} ${request.url.split('?')[0]}.` }));
  if (docs) {
    app.register(swagger, {
      // The same frame as the Node and fetch adapters' document (one definition, openapi.ts).
      openapi: structuredClone(openApiInfo) as never,
    });
    app.register(swaggerUi, { routePrefix: '/docs' });
  }
  const core = () => (app.hasDecorator('tokenstile') ? app.tokenstile : null);
  const metrics = new Metrics(() => core()?.revocationCount ?? 0, () => core()?.degraded ?? true);
  app.register(tokenstile, {
    ...rest,
    onEvent: (event) => {
      metrics.onEvent(event);
      onEvent?.(event);
    },
    storeObserver: metrics.onStoreOperation,
  });
  app.register(async (context) => {
    await registerRouteSet(context, healthRoutes({ core: app.tokenstile }, app.log));
    if (accountPage) await registerRouteSet(context, accountPageRoutes(app.log));
    if (withMetrics) await registerRouteSet(context, metricsRoutes(metrics));
  });
  if (withMetrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    });
  }
  return app;
}
