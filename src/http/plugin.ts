import cookie from '@fastify/cookie';
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { TokenstileOptions } from '../core/config.ts';
import type { AuthInfo } from '../core/auth-info.ts';
import type { Stores } from '../core/stores.ts';
import { createTokenstile, type Tokenstile } from '../core/tokenstile.ts';
import { instrumentStores, type StoreObserver } from '../stores/instrumented-stores.ts';
import { openStores } from '../stores/open-stores.ts';
import { parseDuration } from '../core/duration.ts';
import { openRedisBackends, type RedisBackends } from '../stores/redis/redis-backends.ts';
import { authRoutes } from './auth-routes.ts';
import { createAuthenticate, type AuthenticateHook } from './authenticate.ts';
import { resolveBrowserConfig, type BrowserConfig, type BrowserOptions } from './browser-options.ts';
import { allowCors } from './cors.ts';
import { problemErrorHandler } from './problem.ts';
import { sessionRoutes } from './session-routes.ts';
import { sessionStatusRoutes } from './session-status-routes.ts';
import { wellKnownRoutes } from './well-known-routes.ts';
import { ClientRegistry, parseClients, type ClientCredentials } from '../core/clients.ts';
import { oauthRoutes } from './oauth-routes.ts';
import { revocationStreamRoutes, type RevocationStreamOptions } from './revocation-stream.ts';

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

/** What resource servers use: `/oauth/*` and the revocation stream. */
export interface ResourceServerOptions {
  /**
   * Clients allowed on `/oauth/revoke`, `/oauth/introspect` and `/revocations/stream`:
   * `TOKENSTILE_CLIENTS` syntax (`id:secret,id2:sha256.HASH`) or a list. Default: none (those
   * endpoints answer 401 invalid_client).
   */
  readonly clients?: string | readonly ClientCredentials[];
  /** Heartbeat and replay window of `/revocations/stream`. */
  readonly revocationStream?: RevocationStreamOptions;
}

/** Options of the Fastify plugin: a ready core, or what it takes to open one. */
export type TokenstilePluginOptions = BrowserOptions &
  ResourceServerOptions &
  (
  | { readonly tokenstile: Tokenstile; readonly routes?: boolean }
  | (Omit<TokenstileOptions, 'stores' | 'logger'> & {
      /** Opened stores; default: opened from `databaseUrl` and closed with the app. */
      readonly stores?: Stores;
      /** Default `sqlite:./data/tokenstile.db`. */
      readonly databaseUrl?: string;
      /**
       * Redis for the revocation feed, shared rate-limit counters and the shared cache, opened and
       * closed with the app: `redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://`.
       */
      readonly redisUrl?: string;
      /** Prefix of every Redis key and channel. Default `tokenstile:`. */
      readonly redisKeyPrefix?: string;
      /** Mount `/auth/*`, `/oauth/*`, `/revocations/stream` and `/.well-known/*`. Default true. */
      readonly routes?: boolean;
      /** Told of every store operation's duration (metrics). */
      readonly storeObserver?: StoreObserver;
    })
  );

/** Request bodies are small; anything larger is refused with 413 before parsing. */
export const bodyLimit = 16 * 1024;

// Strict validation whatever the host app configured: unknown fields are refused, not stripped,
// and types are not coerced ("123" is not a number).
const ajv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false, strict: false });

async function routes(app: FastifyInstance, opts: { core: Tokenstile; authenticate: AuthenticateHook; browser: BrowserConfig }): Promise<void> {
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setErrorHandler(problemErrorHandler);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // JSON only: text/plain and form bodies (which a browser may send cross-site without a
  // preflight) are refused with 415 rather than parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else parseJson(request, body as string, done);
  });
  app.addHook('onRequest', async (_request, reply) => {
    // Token responses must never be cached (RFC 6749 §5.1); nothing here is cacheable anyway.
    reply.header('cache-control', 'no-store');
  });
  // Pages on the allowed origins may read the answers (CORS with credentials); no other origin may.
  allowCors(app, opts.browser);
  await app.register(authRoutes, opts);
  await app.register(sessionRoutes, opts);
  await app.register(sessionStatusRoutes, opts);
}

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
    const { stores: given, databaseUrl, redisUrl, redisKeyPrefix, routes: _routes, storeObserver, clients: _clients, revocationStream: _stream, ...coreOptions } = rest;
    const opened = given ?? (await openStores(databaseUrl));
    // Timed, and any backend failure becomes a 503 problem rather than a 500.
    const stores = instrumentStores(opened, storeObserver ?? (() => {}));
    let redis: RedisBackends | undefined;
    try {
      if (redisUrl !== undefined) {
        // The feed's lease follows the core's setting (checked again, with the others, by the core).
        const leaseMs = parseDuration(coreOptions.revocationLease ?? '1.5s', 'revocationLease') * 1000;
        redis = await openRedisBackends(redisUrl, { keyPrefix: redisKeyPrefix, logger: app.log, leaseMs });
      }
      core = await createTokenstile({
        ...(redis && { feed: redis.feed, rateLimiter: redis.rateLimiter, sessionCache: redis.sessionCache }),
        ...coreOptions,
        stores,
        logger: app.log,
      });
    } catch (err) {
      await redis?.close();
      if (!given) await opened.close();
      throw err;
    }
    app.addHook('onClose', async () => {
      await core.close();
      await redis?.close();
      if (!given) await stores.close();
    });
  }
  // Cookies are parsed by @fastify/cookie; a host app that registered it already keeps its own.
  if (!app.hasRequestDecorator('cookies')) await app.register(cookie);
  const authenticate = createAuthenticate(core, browser);
  const clients = new ClientRegistry(configuredClients, { store: core.stores.clients });
  app.decorate('tokenstile', core);
  app.decorate('authenticate', authenticate);
  app.decorateRequest('auth', null);
  if (options.routes !== false) {
    await app.register(routes, { core, authenticate, browser });
    await app.register(wellKnownRoutes, { core });
    await app.register(oauthRoutes, { core, clients });
    await app.register(revocationStreamRoutes, { core, clients, stream: options.revocationStream });
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
