import type { MiddlewareHandler } from 'hono';
import { ConfigError } from '../core/errors.ts';
import { authenticateRequest, type VerifiedAuth } from './http-auth.ts';
import type { Verifier } from './verifier.ts';

/** The Hono environment the middleware sets: `c.get('auth')`. */
export interface TokenstileHonoEnv {
  Variables: {
    /** Who is calling: user id, session id, claims. */
    auth: VerifiedAuth;
  };
}

/**
 * `tokenstile/hono`: middleware that sets `c.get('auth')` (user id, session id, claims), or
 * answers 401 with an RFC 6750 challenge and problem+json (`invalid_token`, `token_expired`,
 * `session_revoked`), or 503 `service_unavailable` while revocations are stale past their bound.
 * Hono itself is not imported at runtime.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { honoAuth, type TokenstileHonoEnv } from 'tokenstile/hono';
 *
 * const app = new Hono<TokenstileHonoEnv>();
 * app.use('/api/*', honoAuth(verifier));
 * app.get('/api/orders', (c) => c.json(listOrders(c.get('auth').userId)));
 * ```
 */
export function honoAuth(verifier: Verifier): MiddlewareHandler<TokenstileHonoEnv> {
  if (typeof verifier?.verify !== 'function') throw new ConfigError('honoAuth: pass the verifier made by createVerifier()');
  return async (c, next) => {
    const outcome = await authenticateRequest(verifier, c.req.header('authorization'), { method: c.req.method, url: c.req.url, dpop: c.req.header('dpop') });
    if (!outcome.ok) return c.body(JSON.stringify(outcome.body), outcome.status as 401, outcome.headers);
    for (const [name, value] of Object.entries(outcome.headers ?? {})) c.header(name, value);
    c.set('auth', outcome.auth);
    await next();
  };
}

export type { VerifiedAuth } from './http-auth.ts';
