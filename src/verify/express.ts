import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ConfigError } from '../core/errors.ts';
import { authenticateRequest, type VerifiedAuth } from './http-auth.ts';
import type { Verifier } from './verifier.ts';

declare global {
  // Express's own way to type request additions.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `expressAuth` on routes it guards: who is calling. */
      auth?: VerifiedAuth;
    }
  }
}

/**
 * `tokenstile/express`: middleware that lets a request through with `req.auth` set (user id,
 * session id, claims), or answers 401 with an RFC 6750 challenge and problem+json
 * (`invalid_token`, `token_expired`, `session_revoked`), or 503 `service_unavailable` while
 * revocations are stale past their bound. Express itself is not imported at runtime.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createVerifier } from 'tokenstile/verify';
 * import { expressAuth } from 'tokenstile/express';
 *
 * const verifier = createVerifier({ ... });
 * const app = express();
 * app.get('/orders', expressAuth(verifier), (req, res) => res.json(listOrders(req.auth!.userId)));
 * ```
 */
export function expressAuth(verifier: Verifier): RequestHandler {
  if (typeof verifier?.verify !== 'function') throw new ConfigError('expressAuth: pass the verifier made by createVerifier()');
  return (req: Request, res: Response, next: NextFunction) => {
    // The URL as the client addressed it (originalUrl keeps a router's mount path); its origin
    // is replaced by the verifier's dpop.origin when one is set.
    const url = `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl ?? req.url}`;
    authenticateRequest(verifier, req.headers.authorization, { method: req.method, url, dpop: req.headers.dpop }).then((outcome) => {
      if (outcome.ok) {
        if (outcome.headers) res.set(outcome.headers);
        req.auth = outcome.auth;
        next();
        return;
      }
      res.status(outcome.status).set(outcome.headers).send(JSON.stringify(outcome.body));
    }, next);
  };
}

/** `req.auth` on a route guarded by `expressAuth` (throws if the middleware is missing). */
export function authOf(req: Request): VerifiedAuth {
  if (!req.auth) throw new Error('route is missing the expressAuth middleware');
  return req.auth;
}

export type { VerifiedAuth } from './http-auth.ts';
