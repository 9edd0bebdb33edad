import type { CoreFeature } from '../core/feature.ts';
import type { RouteFactory } from '../http/routes/route-context.ts';
import type { CodeSet } from '../protocol/error-codes.ts';

/**
 * One feature in the registry (src/features/index.ts): its core half (migrations, setup), its
 * error codes and its routes, each optional. The servers open the core with every entry's `core`,
 * answer every entry's `codes` with their status, and mount every entry's `routes`.
 *
 * @example
 * export const notes: FeatureEntry = { name: 'notes', core: notesFeature, codes: notesCodes, routes: notesRoutes };
 */
export interface FeatureEntry {
  /** The feature's name; the same as `core.name` when it has a core half. */
  readonly name: string;
  readonly core?: CoreFeature<any>;
  readonly codes?: CodeSet;
  readonly routes?: RouteFactory;
}

/** The core halves of `entries`, in order, for `createTokenstile({ features })`. */
export function coreFeatures(entries: readonly FeatureEntry[]): CoreFeature[] {
  return entries.flatMap((e) => (e.core === undefined ? [] : [e.core]));
}
