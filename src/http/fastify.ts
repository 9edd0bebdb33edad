/**
 * `tokenstile/fastify`: embed Tokenstile in your own Fastify app (the `tokenstile` plugin), or run
 * the complete server as a Fastify instance (`buildApp`).
 *
 * @example
 * ```ts
 * import { buildApp } from 'tokenstile/fastify';
 * const app = buildApp({ issuer: 'https://auth.example.com', databaseUrl: 'sqlite:./data/auth.db' });
 * await app.listen({ port: 3000 });
 * ```
 */
export { buildApp, type BuildAppOptions } from './app.ts';
export { tokenstile, type TokenstilePluginOptions } from './plugin.ts';
export { bearerToken } from './authenticate.ts';
export type { AuthenticateHook } from './fastify-routes.ts';
export type { AuthInfo } from '../core/auth-info.ts';
export type { AuthCache, CacheEntryOptions } from '../core/auth-cache.ts';
export { tokenstileVerifier, type TokenstileVerifierOptions } from './verifier-plugin.ts';
