import type { Logger } from '../core/config.ts';
import { ClientRegistry, parseClients } from '../core/clients.ts';
import { ConfigError } from '../core/errors.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { BuildAppOptions } from './app.ts';
import { resolveBrowserConfig } from './browser-options.ts';
import type { RouteDefinition } from './http-types.ts';
import { Metrics } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { openServer } from './open-server.ts';
import { createGuard, type Guard } from './protect.ts';
import { createPipeline, type IncomingHttp, type HandleResult } from './request-handler.ts';
import { accountPageRoutes } from './routes/account-page.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import type { RouteSet } from './routes/route-context.ts';
import { contractRoutes } from './routes/route-table.ts';
import { features as builtInFeatures } from '../features/index.ts';
import { resolveTrustProxy, trustFunction, trustProxyWarning } from './trust-proxy.ts';
import { internals } from '../core/core-internals.ts';

/** Options of `createNodeHandler` and `createFetchHandler`: the standalone server's, plus where they are mounted. */
export interface HandlerOptions extends Omit<BuildAppOptions, 'logger'> {
  /**
   * The path the routes are served under, e.g. `/identity` for `/identity/auth/login`; default
   * `''` (the contract's paths at the root). The Node handler hands requests outside it on to the
   * host (`next()`); the fetch handler answers them 404. The refresh and device cookies' paths and
   * the OpenAPI paths follow it.
   */
  readonly prefix?: string;
  /** Where warnings and errors go (pino, `console`); default: nowhere. Tokens and passwords are never logged. */
  readonly logger?: Logger;
}

/** The shared part of the Node and fetch adapters: one core, its routes and the request pipeline. */
export interface ServerHandler {
  readonly tokenstile: Tokenstile;
  readonly prefix: string;
  handle(incoming: IncomingHttp, notFound: boolean): Promise<HandleResult>;
  /** Checks a request to one of the host app's own routes as Tokenstile's protected routes are checked. */
  readonly guard: Guard;
  /** Answers 503 to new requests, ends the revocation streams, then closes the core and the stores it opened. */
  close(): Promise<void>;
}

/** Checks the mount prefix: empty, or `/segment[/segment…]` without a trailing slash. */
function checkPrefix(prefix: string): string {
  if (prefix === '' || prefix === '/') return '';
  if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/.test(prefix)) throw new ConfigError(`prefix must be empty or a path such as "/identity" (no trailing slash), got ${JSON.stringify(prefix)}`);
  return prefix;
}

/** Opens the core and builds the pipeline for the Node and fetch adapters. */
export async function createServerHandler(options: HandlerOptions): Promise<ServerHandler> {
  const { logger, trustProxy = false, docs = true, metrics: withMetrics = true, accountPage = true, onEvent, prefix: givenPrefix = '', cookieSameSite, allowedOrigins, clients: clientList, revocationStream, features = builtInFeatures, ...serverOptions } = options;
  // Checked before anything is opened: bad settings fail at startup, naming the entry.
  const prefix = checkPrefix(givenPrefix);
  const configuredClients = typeof clientList === 'string' ? parseClients(clientList) : (clientList ?? []);
  new ClientRegistry(configuredClients);
  const browser = resolveBrowserConfig({ cookieSameSite, allowedOrigins }, serverOptions.issuer, `${prefix}/auth/refresh`);
  const proxies = resolveTrustProxy(trustProxy);
  const warning = trustProxyWarning(proxies);
  if (warning !== null) logger?.warn({}, warning);
  let core: Tokenstile | null = null;
  const metrics = new Metrics(() => core?.revocationCount ?? 0, () => core?.degraded ?? true);
  const server = await openServer(
    {
      ...serverOptions,
      features,
      onEvent: (event) => {
        metrics.onEvent(event);
        onEvent?.(event);
      },
      storeObserver: metrics.onStoreOperation,
    },
    logger,
  );
  core = server.core;
  const clients = new ClientRegistry(configuredClients, { store: internals(core).stores.clients });
  const sets: RouteSet[] = [contractRoutes({ core, browser, clients, prefix, revocationStream }, features), healthRoutes({ core }, logger)];
  if (accountPage) sets.push(accountPageRoutes(logger));
  if (withMetrics) sets.push(metricsRoutes(metrics));
  const routes: RouteDefinition[] = sets.flatMap((s) => s.routes);
  if (docs) routes.push(docsRoute(() => document));
  const document = openApiDocument(routes, prefix);
  let closing = false;
  const trust = trustFunction(proxies);
  const handle = createPipeline({
    core,
    browser,
    routes,
    prefix,
    trust,
    closing: () => closing,
    logger,
    ...(withMetrics && { observe: metrics.observeRequest.bind(metrics) }),
  });
  return {
    tokenstile: core,
    prefix,
    handle,
    guard: createGuard(core, browser, trust),
    async close() {
      if (closing) return;
      closing = true;
      for (const s of sets) await s.close?.();
      await server.close();
    },
  };
}

/** `GET /docs/json`: the OpenAPI document of this route table (the viewer at `/docs` is the Fastify server's). */
function docsRoute(document: () => Record<string, unknown>): RouteDefinition {
  return { method: 'GET', url: '/docs/json', group: 'plain', body: 'none', schema: { hide: true }, handler: async () => document() };
}
