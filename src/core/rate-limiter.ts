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
  /**
   * What `hit` would answer for `key` at `now`, recording nothing: `allowed` while fewer than
   * `limit` attempts lie within the last `windowMs`, `remaining` = `limit` minus those attempts
   * (at least 0), `retryAfterMs` until one of them leaves the window. A smaller window than the
   * key is hit with asks about recent attempts only (the time since the last one, say).
   */
  peek(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision>;
  /** Forgets `key` (after a successful login, say). */
  reset(key: string): Promise<void>;
}
