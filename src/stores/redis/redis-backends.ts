import type { Logger } from '../../core/config.ts';
import type { RateLimiter } from '../../core/rate-limiter.ts';
import type { RevocationFeed } from '../../core/revocation-feed.ts';
import type { SessionCache } from '../../core/session-cache.ts';
import { guardStore, redisUnavailableError } from '../store-errors.ts';
import { checkEvictionPolicy, connectRedis } from './redis-client.ts';
import { RedisProofReplayStore } from './redis-proof-replay.ts';
import { RedisRateLimiter } from './redis-rate-limiter.ts';
import type { ProofReplayStore } from '../../core/proof-replay.ts';
import { RedisRevocationFeed } from './redis-revocation-feed.ts';
import { RedisSessionCache } from './redis-session-cache.ts';

/** What Redis provides to every instance: the revocation feed, rate-limit counters, the cache. */
export interface RedisBackends {
  readonly feed: RevocationFeed;
  readonly rateLimiter: RateLimiter;
  readonly sessionCache: SessionCache;
  /** DPoP proof `jti`s, so a proof used on one instance is refused by every other. */
  readonly proofReplay: ProofReplayStore;
  /** The URL with its password replaced. */
  readonly target: string;
  close(): Promise<void>;
}

/**
 * Connects to Redis (`redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://`) and builds
 * the three shared backends on one connection (plus the feed's subscriber). Warns through
 * `logger` when Redis may evict keys (`maxmemory-policy`), which would drop rate-limit counters
 * and cache versions. Rejects when Redis cannot be reached. The backends raise
 * `StoreUnavailableError` when Redis cannot be used (connection closed or refused, retries spent). `leaseMs`: the feed lease (default 1500).
 */
export async function openRedisBackends(url: string, options: { keyPrefix?: string; logger?: Logger; leaseMs?: number } = {}): Promise<RedisBackends> {
  const redis = await connectRedis(url, { keyPrefix: options.keyPrefix ?? 'tokenstile:' });
  try {
    const warning = await checkEvictionPolicy(redis.client);
    if (warning) options.logger?.warn({ redis: redis.target }, `tokenstile: ${warning}`);
    const feed = new RedisRevocationFeed(redis, { leaseMs: options.leaseMs });
    return {
      feed: guardStore(() => feed, 'feed', redisUnavailableError),
      rateLimiter: guardStore(() => new RedisRateLimiter(redis), 'rateLimiter', redisUnavailableError),
      sessionCache: guardStore(() => new RedisSessionCache(redis), 'sessionCache', redisUnavailableError),
      proofReplay: guardStore(() => new RedisProofReplayStore(redis), 'proofReplay', redisUnavailableError),
      target: redis.target,
      async close() {
        await feed.close();
        await redis.close();
      },
    };
  } catch (err) {
    await redis.close();
    throw err;
  }
}
