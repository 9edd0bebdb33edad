import type { Logger, TokenstileOptions } from '../core/config.ts';
import { parseDuration } from '../core/duration.ts';
import type { Stores } from '../core/stores.ts';
import { createTokenstile, type Tokenstile } from '../core/tokenstile.ts';
import { instrumentStores, type StoreObserver } from '../stores/instrumented-stores.ts';
import { openStores } from '../stores/open-stores.ts';
import { openRedisBackends, type RedisBackends } from '../stores/redis/redis-backends.ts';
import { coreFeatures, type FeatureEntry } from '../features/feature-entry.ts';
import { features as builtInFeatures } from '../features/index.ts';

/** What it takes to open a Tokenstile core and its backends (every adapter's options). */
export interface OpenServerOptions extends Omit<TokenstileOptions, 'stores' | 'logger' | 'features'> {
  /**
   * The features to open the core with and serve (src/features/index.ts): their core halves go to
   * `createTokenstile`, their codes and routes to the route table. Default: the built-in list.
   */
  readonly features?: readonly FeatureEntry[];
  /** Opened stores; default: opened from `databaseUrl` and closed with the server. */
  readonly stores?: Stores;
  /** Default `sqlite:./data/tokenstile.db`. */
  readonly databaseUrl?: string;
  /**
   * Redis for the revocation feed, shared rate-limit counters and the shared cache, opened and
   * closed with the server: `redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://`.
   */
  readonly redisUrl?: string;
  /** Prefix of every Redis key and channel. Default `tokenstile:`. */
  readonly redisKeyPrefix?: string;
  /** Told of every store operation's duration (metrics). */
  readonly storeObserver?: StoreObserver;
}

/** An opened core and how to close it with everything opened for it. */
export interface OpenedServer {
  readonly core: Tokenstile;
  close(): Promise<void>;
}

/**
 * Opens the stores (unless given), Redis (when `redisUrl` is set) and the core. Any backend failure
 * later becomes a 503 problem rather than a 500 (the stores are instrumented). On failure,
 * whatever was opened is closed again.
 */
export async function openServer(options: OpenServerOptions, logger: Logger | undefined): Promise<OpenedServer> {
  const { stores: given, databaseUrl, redisUrl, redisKeyPrefix, storeObserver, features = builtInFeatures, ...coreOptions } = options;
  const opened = given ?? (await openStores(databaseUrl));
  const stores = instrumentStores(opened, storeObserver ?? (() => {}));
  let redis: RedisBackends | undefined;
  let core: Tokenstile;
  try {
    if (redisUrl !== undefined) {
      // The feed's lease follows the core's setting (checked again, with the others, by the core).
      const leaseMs = parseDuration(coreOptions.revocationLease ?? '1.5s', 'revocationLease') * 1000;
      redis = await openRedisBackends(redisUrl, { keyPrefix: redisKeyPrefix, ...(logger && { logger }), leaseMs });
    }
    core = await createTokenstile({
      ...(redis && { feed: redis.feed, rateLimiter: redis.rateLimiter, sessionCache: redis.sessionCache, proofReplay: redis.proofReplay }),
      ...coreOptions,
      stores,
      features: coreFeatures(features),
      ...(logger && { logger }),
    });
  } catch (err) {
    await redis?.close();
    if (!given) await opened.close();
    throw err;
  }
  return {
    core,
    async close() {
      await core.close();
      await redis?.close();
      if (!given) await stores.close();
    },
  };
}
