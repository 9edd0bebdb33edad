import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { ConfigError } from '../core/errors.ts';
import { authenticateRequest, type VerifiedAuth } from '../verify/http-auth.ts';
import type { Verifier } from '../verify/verifier.ts';
import type { AuthenticateHook } from './fastify-routes.ts';
// The `app.authenticate` declaration lives with the server plugin.
import './plugin.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who is calling, from a token checked by `tokenstile/verify`; set by `app.authenticate` of
     * `tokenstileVerifier`, null elsewhere. (`request.auth` belongs to the embedded server plugin.)
     */
    tokenAuth: VerifiedAuth | null;
  }
}

/** Options of `tokenstileVerifier`. */
export interface TokenstileVerifierOptions {
  /** Made by `createVerifier` from `tokenstile/verify`. */
  readonly verifier: Verifier;
}

const plugin: FastifyPluginAsync<TokenstileVerifierOptions> = async (app, options) => {
  if (typeof options?.verifier?.verify !== 'function') throw new ConfigError('tokenstileVerifier: pass { verifier } made by createVerifier()');
  const { verifier } = options;
  const authenticate: AuthenticateHook = async (request, reply) => {
    const url = `${request.protocol}://${request.host}${request.url}`;
    const outcome = await authenticateRequest(verifier, request.headers.authorization, { method: request.method, url, dpop: request.headers.dpop });
    if (!outcome.ok) {
      await reply.code(outcome.status).headers(outcome.headers).send(JSON.stringify(outcome.body));
      return;
    }
    if (outcome.headers) reply.headers(outcome.headers);
    request.tokenAuth = outcome.auth;
  };
  app.decorate('authenticate', authenticate);
  app.decorateRequest('tokenAuth', null);
};

/**
 * For a Fastify resource server (no auth server inside): decorates `app.authenticate`, a hook
 * that sets `request.tokenAuth` (user id, session id, claims) from a token checked by the
 * `tokenstile/verify` SDK, or answers 401 with an RFC 6750 challenge and problem+json (503 while
 * revocations are stale past their bound).
 *
 * @example
 * ```ts
 * import { tokenstileVerifier } from 'tokenstile/fastify';
 * await app.register(tokenstileVerifier, { verifier });
 * app.get('/orders', { onRequest: app.authenticate }, async (request) => listOrders(request.tokenAuth!.userId));
 * ```
 */
export const tokenstileVerifier = fp(plugin, { fastify: '5.x', name: 'tokenstile-verifier' });
