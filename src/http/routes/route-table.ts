import { registerCodes } from '../../protocol/error-registry.ts';
import type { FeatureEntry } from '../../features/feature-entry.ts';
import { corsPreflightRoute } from '../cors.ts';
import type { RouteContext, RouteSet } from './route-context.ts';

export type { RouteFactory } from './route-context.ts';

/**
 * The routes of `features` (the registry's list, src/features/index.ts, unless the embedder chose
 * another), defined once for every adapter, in order, then the CORS preflights of `/auth/*`. Every
 * entry's error codes are registered, so that its answers carry their status. `close` stops what
 * the features started (the revocation stream's timers).
 */
export function contractRoutes(context: RouteContext, features: readonly FeatureEntry[]): RouteSet {
  for (const feature of features) if (feature.codes !== undefined) registerCodes(feature.codes);
  const sets = [...features.flatMap((f) => (f.routes === undefined ? [] : [f.routes(context)])), { routes: [corsPreflightRoute(context.browser)] }];
  return {
    routes: sets.flatMap((s) => s.routes),
    async close() {
      for (const s of sets) await s.close?.();
    },
  };
}
