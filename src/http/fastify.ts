/** `tokenstile/fastify`: embed Tokenstile in your own Fastify app. */
export { tokenstile, type TokenstilePluginOptions } from './plugin.ts';
export { bearerToken } from './authenticate.ts';
export type { AuthenticateHook } from './fastify-routes.ts';
export type { AuthInfo } from '../core/auth-info.ts';
export type { AuthCache, CacheEntryOptions } from '../core/auth-cache.ts';
export { tokenstileVerifier, type TokenstileVerifierOptions } from './verifier-plugin.ts';
