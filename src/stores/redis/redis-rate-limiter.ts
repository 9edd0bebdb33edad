import { randomBytes } from 'node:crypto';
import type { RateLimitDecision, RateLimiter } from '../../core/rate-limiter.ts';
import { runScript } from './redis-client.ts';
import type { RedisConnection } from './redis-client.ts';

/*
 * One sorted set per key: members are attempts, scores their times. The script runs atomically,
 * so concurrent attempts on one key from any number of instances are all counted. Refused
 * attempts are not recorded, like the memory limiter: hammering does not extend the wait.
 */
const hitScript = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  if limit <= 0 then return {0, 0, window} end
  local freed = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return {0, 0, math.max(1, tonumber(freed[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
-- Decisions use the callers' clock; the expiry only frees memory, so it keeps a minute of slack:
-- a key must not vanish early because Redis's clock ran further than the callers' (a short
-- spacing window, a busy instance, a test's clock).
redis.call('PEXPIRE', KEYS[1], window + 60000)
return {1, limit - count - 1, 0}
`;

/* What `hit` would answer, changing nothing (read-only, so it may run on a replica). */
const peekScript = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local from = now - window + 1 -- times are whole ms: "later than now - window"
local count = redis.call('ZCOUNT', KEYS[1], from, '+inf')
if count < limit then return {1, limit - count, 0} end
if limit <= 0 then return {0, 0, window} end
local freed = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
return {0, 0, math.max(1, tonumber(freed[2]) + window - now)}
`;

/**
 * A sliding-window limiter shared by every instance through Redis: exact (a log of attempt
 * times per key, at most `limit` long) and atomic per key (one Lua script). The key
 * `<prefix>rl:{<key>}` carries a hash tag so a Cluster keeps it in one slot; it expires one
 * window and a minute after the last allowed attempt. Times are the callers' `now`, not Redis's clock, so
 * instances should keep their clocks in sync (NTP); a skew of a few ms shifts the window by as much.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisConnection;

  constructor(redis: RedisConnection) {
    this.#redis = redis;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> {
    // A unique member per attempt: two attempts in the same millisecond are two entries.
    const member = `${now}:${randomBytes(9).toString('base64url')}`;
    const reply = await runScript(this.#redis.client, hitScript, [this.#key(key)], [Math.floor(now), Math.ceil(windowMs), Math.floor(limit), member]);
    const [allowed, remaining, retryAfterMs] = reply as [number, number, number];
    return { allowed: allowed === 1, remaining, retryAfterMs };
  }

  async peek(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> {
    const reply = await runScript(this.#redis.client, peekScript, [this.#key(key)], [Math.floor(now), Math.ceil(windowMs), Math.floor(limit)]);
    const [allowed, remaining, retryAfterMs] = reply as [number, number, number];
    return { allowed: allowed === 1, remaining, retryAfterMs };
  }

  async reset(key: string): Promise<void> {
    await this.#redis.client.del(this.#key(key));
  }

  #key(key: string): string {
    return `${this.#redis.keyPrefix}rl:{${key}}`;
  }
}
