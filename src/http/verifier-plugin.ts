import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { ConfigError } from '../core/errors.ts';
import { authenticateRequest } from '../verify/http-auth.ts';
import type { Verifier } from '../verify/verifier.ts';
import type { AuthenticateHook } from './authenticate.ts';
// The `request.auth` and `app.authenticate` declarations live with the server plugin.
import './plugin.ts';

/** Options of `tokenstileVerifier`. */
export interface TokenstileVerifierOptions {
  /** Made by `createVerifier` from `tokenstile/verify`. */
  readonly verifier: Verifier;
}

const plugin: FastifyPluginAsync<TokenstileVerifierOptions> = async (app, options) => {
  if (typeof options?.verifier?.verify !== 'function') throw new ConfigError('tokenstileVerifier: pass { verifier } made by createVerifier()');
  const { verifier } = options;
  const authenticate: AuthenticateHook = async (request, reply) => {
    const outcome = await authenticateRequest(verifier, request.headers.authorization);
    if (!outcome.ok) {
      await reply.code(outcome.status).headers(outcome.headers).send(JSON.stringify(outcome.body));
      return;
    }
    request.auth = outcome.auth;
  };
  app.decorate('authenticate', authenticate);
  app.decorateRequest('auth', null);
};

/**
 * For a Fastify resource server (no auth server inside): decorates `app.authenticate`, a hook
 * that sets `request.auth` from a token checked by the `tokenstile/verify` SDK, or answers 401 with
 * an RFC 6750 challenge and problem+json (503 while revocations are stale past their bound).
 * The same `request.auth` as the embedded `tokenstile` plugin, so routes work with either.
 *
 * @example
 * ```ts
 * import { tokenstileVerifier } from 'tokenstile/fastify';
 * await app.register(tokenstileVerifier, { verifier });
 * app.get('/orders', { onRequest: app.authenticate }, async (request) => listOrders(request.auth!.userId));
 * ```
 */
export const tokenstileVerifier = fp(plugin, { fastify: '5.x', name: 'tokenstile-verifier' });
