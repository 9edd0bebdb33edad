/** `tokenstile/fastify`: embed Tokenstile in your own Fastify app. */
export { tokenstile, type TokenstilePluginOptions } from './plugin.ts';
export { bearerToken, type AuthenticateHook } from './authenticate.ts';
export type { AuthInfo } from '../core/sessions.ts';
export { tokenstileVerifier, type TokenstileVerifierOptions } from './verifier-plugin.ts';
