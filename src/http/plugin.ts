import cookie from '@fastify/cookie';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { AuthInfo } from '../core/auth-info.ts';
import { ClientRegistry, parseClients } from '../core/clients.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { StoreObserver } from '../stores/instrumented-stores.ts';
import { resolveBrowserConfig, type BrowserOptions } from './browser-options.ts';
import { createAuthenticate, registerRouteSet, type AuthenticateHook } from './fastify-routes.ts';
import { openServer, type OpenServerOptions } from './open-server.ts';
import type { ResourceServerOptions } from './resource-server-options.ts';
import { contractRoutes } from './routes/route-table.ts';
import type { FeatureEntry } from '../features/feature-entry.ts';
import { features as builtInFeatures } from '../features/index.ts';
import { internals } from '../core/core-internals.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set by `fastify.authenticate`, null on routes that do not use it. */
    auth: AuthInfo | null;
  }
  interface FastifyInstance {
    /** The Tokenstile core behind the routes. */
    tokenstile: Tokenstile;
    /** Hook for your own routes: `{ onRequest: app.authenticate }` sets `request.auth` or answers 401. */
    authenticate: AuthenticateHook;
  }
}

/** Options of the Fastify plugin: a ready core, or what it takes to open one. */
export type TokenstilePluginOptions = BrowserOptions &
  ResourceServerOptions &
  (
  | { readonly tokenstile: Tokenstile; readonly routes?: boolean }
  | (OpenServerOptions & {
      /** Mount `/auth/*`, `/oauth/*`, `/revocations/stream` and `/.well-known/*`. Default true. */
      readonly routes?: boolean;
      /** Told of every store operation's duration (metrics). */
      readonly storeObserver?: StoreObserver;
    })
  );

const plugin: FastifyPluginAsync<TokenstilePluginOptions> = async (app, options) => {
  // Checked before anything is opened: a bad client list fails at startup, naming the entry.
  const configuredClients = typeof options.clients === 'string' ? parseClients(options.clients) : (options.clients ?? []);
  new ClientRegistry(configuredClients);
  const { cookieSameSite, allowedOrigins, ...rest } = options;
  // Checked before any store is opened; the refresh cookie's path follows the prefix we are mounted at.
  const issuer = 'tokenstile' in rest ? rest.tokenstile.config.issuer : rest.issuer;
  const browser = resolveBrowserConfig({ cookieSameSite, allowedOrigins }, issuer, `${app.prefix}/auth/refresh`);
  let core: Tokenstile;
  if ('tokenstile' in rest) {
    core = rest.tokenstile;
  } else {
    const { routes: _routes, clients: _clients, revocationStream: _stream, ...serverOptions } = rest;
    const server = await openServer(serverOptions, app.log);
    core = server.core;
    app.addHook('onClose', () => server.close());
  }
  // Cookies are parsed by @fastify/cookie; a host app that registered it already keeps its own.
  if (!app.hasRequestDecorator('cookies')) await app.register(cookie);
  const authenticate = createAuthenticate(core, browser);
  const clients = new ClientRegistry(configuredClients, { store: internals(core).stores.clients });
  app.decorate('tokenstile', core);
  app.decorate('authenticate', authenticate);
  app.decorateRequest('auth', null);
  if (options.routes !== false) {
    const context = { core, browser, clients, prefix: app.prefix, revocationStream: options.revocationStream };
    await registerRouteSet(app, contractRoutes(context, options.features ?? builtInFeatures), { authenticate, browser });
  }
};

/**
 * Adds Tokenstile to a Fastify app: the `/auth/*` routes and the JWKS, `app.tokenstile`, and
 * `app.authenticate` for your own routes, which then see `request.auth`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { tokenstile } from 'tokenstile/fastify';
 *
 * const app = Fastify();
 * await app.register(tokenstile, { issuer: 'https://auth.example.com', databaseUrl: 'sqlite:./auth.db' });
 * app.get('/orders', { onRequest: app.authenticate }, async (request) => listOrders(request.auth!.userId));
 * ```
 */
export const tokenstile = fp(plugin, { fastify: '5.x', name: 'tokenstile' });
