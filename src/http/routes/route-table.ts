import { internals } from '../../core/core-internals.ts';
import { corsPreflightRoute } from '../cors.ts';
import { authRoutes } from './auth.ts';
import { oauthRoutes } from './oauth.ts';
import { revocationStreamRoutes, type RevocationStreamOptions } from '../../features/revocation-stream/revocation-stream-routes.ts';
import type { RouteContext, RouteSet } from './route-context.ts';
import { sessionStatusRoutes } from './session-status.ts';
import { sessionRoutes } from './sessions.ts';
import { wellKnownRoutes } from './well-known.ts';

/** A feature's route factory. A new feature adds its factory to `features` below. */
export type RouteFactory = (context: RouteContext) => RouteSet;

/** The contract's features, in the order their routes are matched. */
const features: readonly RouteFactory[] = [authRoutes, sessionRoutes, sessionStatusRoutes, wellKnownRoutes, oauthRoutes];

/**
 * The contract's routes, defined once for every adapter: `/auth/*` (with CORS preflights),
 * `/.well-known/*`, `/oauth/*` and the revocation stream. `close` stops the stream's timers.
 */
export function contractRoutes(context: RouteContext, stream?: RevocationStreamOptions): RouteSet {
  const sets = [...features.map((f) => f(context)), { routes: [corsPreflightRoute(context.browser)] }, revocationStreamRoutes({ core: context.core, feed: internals(context.core), clients: context.clients, stream })];
  return {
    routes: sets.flatMap((s) => s.routes),
    async close() {
      for (const s of sets) await s.close?.();
    },
  };
}
