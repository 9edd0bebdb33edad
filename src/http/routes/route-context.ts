import type { ClientRegistry } from '../../core/clients.ts';
import type { Tokenstile } from '../../core/tokenstile.ts';
import type { BrowserConfig } from '../browser-options.ts';
import type { RouteDefinition } from '../http-types.ts';
import * as s from '../schemas.ts';
import type { RevocationStreamOptions } from '../../features/revocation-stream/revocation-stream-routes.ts';

/** What every route factory is given: the core and the settings checked at startup. */
export interface RouteContext {
  readonly core: Tokenstile;
  readonly browser: BrowserConfig;
  /** Client credentials of `/oauth/*` and the revocation stream. */
  readonly clients: ClientRegistry;
  /** Where the routes are mounted (`''` at the root), for cookie paths. */
  readonly prefix: string;
  /** Heartbeat and replay window of `/revocations/stream`. */
  readonly revocationStream?: RevocationStreamOptions | undefined;
}

/** A feature's route factory: its part of the route table (see src/features/index.ts). */
export type RouteFactory = (context: RouteContext) => RouteSet;

/** One factory serving the routes of several, in order. */
export function allRoutes(...factories: readonly RouteFactory[]): RouteFactory {
  return (context) => {
    const sets = factories.map((f) => f(context));
    return {
      routes: sets.flatMap((s) => s.routes),
      async close() {
        for (const s of sets) await s.close?.();
      },
    };
  };
}

/**
 * A feature's routes, and what to stop when the server closes. A feature adds routes by exporting
 * a factory of this shape (its registry entry in src/features/index.ts names it); no adapter changes.
 */
export interface RouteSet {
  readonly routes: readonly RouteDefinition[];
  /** Stops the feature's timers and subscriptions; called when the server closes. */
  close?(): void | Promise<void>;
}

/** The OpenAPI `responses` entries of these error statuses: each a problem+json document. */
export function errorResponses(...statuses: number[]): Record<number, object> {
  return Object.fromEntries(statuses.map((n) => [n, s.problemResponse]));
}
