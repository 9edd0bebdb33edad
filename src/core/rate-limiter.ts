/** The answer of a rate limiter for one attempt. */
export interface RateLimitDecision {
  /** False when the attempt is over the limit and must be refused. */
  readonly allowed: boolean;
  /** Attempts left in the current window after this one. */
  readonly remaining: number;
  /** Milliseconds until an attempt would be allowed again (0 when allowed). */
  readonly retryAfterMs: number;
}

/**
 * Counts attempts per key in a sliding window. Shared limiters (Redis) give every instance the
 * same counts, so three instances hold one limit, not three.
 */
export interface RateLimiter {
  /**
   * Records an attempt for `key` at `now` and says whether it is within `limit` attempts per
   * `windowMs`. Atomic per key: concurrent attempts are all counted.
   */
  hit(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision>;
  /** Forgets `key` (after a successful login, say). */
  reset(key: string): Promise<void>;
}
