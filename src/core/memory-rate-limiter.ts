import type { RateLimitDecision, RateLimiter } from './rate-limiter.ts';

/**
 * A sliding-window limiter in this process's memory: exact (a log of the last `limit` attempt
 * times per key), for one instance. Keys idle for longer than their window are swept as new
 * attempts come, so memory follows the set of recently active keys.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #hits = new Map<string, { times: number[]; windowMs: number }>();
  #nextSweep = 0;

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> {
    this.#sweep(now);
    let entry = this.#hits.get(key);
    if (!entry) this.#hits.set(key, (entry = { times: [], windowMs }));
    entry.windowMs = windowMs;
    const times = entry.times.filter((t) => t > now - windowMs);
    if (times.length >= limit) {
      entry.times = times;
      return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, times[0]! + windowMs - now) };
    }
    times.push(now);
    entry.times = times.slice(-limit);
    // Re-inserted at the back, so the Map stays roughly in order of last use for the sweep.
    this.#hits.delete(key);
    this.#hits.set(key, entry);
    return { allowed: true, remaining: limit - times.length, retryAfterMs: 0 };
  }

  async peek(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> {
    const times = (this.#hits.get(key)?.times ?? []).filter((t) => t > now - windowMs);
    if (times.length < limit) return { allowed: true, remaining: limit - times.length, retryAfterMs: 0 };
    // The attempt whose leaving the window makes room for one more.
    return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, times[times.length - limit]! + windowMs - now) };
  }

  async reset(key: string): Promise<void> {
    this.#hits.delete(key);
  }

  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 10_000;
    for (const [key, entry] of this.#hits) {
      const last = entry.times.at(-1) ?? 0;
      if (last > now - entry.windowMs) break;
      this.#hits.delete(key);
    }
  }
}
