import { maxCacheTtlMs } from './auth-cache.ts';
import type { Logger } from './config.ts';
import type { CacheScope, SessionCache } from './session-cache.ts';
import { single } from './single.ts';

/** A cache that holds nothing: every read misses, every write is dropped. */
const bypassed: SessionCache = {
  kind: 'bypassed',
  version: async () => 'bypassed',
  get: async () => null,
  set: async () => {},
  dropUser: async () => {},
  dropSession: async () => {},
  close: async () => {},
};

/**
 * Guards the session cache against drops that fail. A drop that errs, or does not answer within
 * `dropTimeoutMs` (a hung Redis), must neither hold up the logout that asked for it nor let an
 * entry it was meant to end be read later. So from that moment the cache is bypassed (reads miss,
 * writes are dropped) and the failed drops are redone on every `redo()` (the core's timer); the
 * bypass ends as soon as every one of them has succeeded, or once every entry that could be stale
 * has expired (the longest TTL, 10 minutes), whichever comes first.
 */
export class CacheGuard {
  readonly #cache: SessionCache;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  readonly #dropTimeoutMs: number;
  /** Failed drops by scope, with the time after which nothing they were meant to end is left. */
  readonly #failed = new Map<string, { scope: CacheScope; until: number }>();
  readonly #redo = single(async () => {
    for (const [key, { scope, until }] of this.#failed) {
      if (this.#now() < until) await this.#drop(scope); // throws: the rest wait for the next round
      this.#failed.delete(key);
    }
  });

  constructor(cache: SessionCache, options: { now: () => number; logger?: Logger | undefined; dropTimeoutMs?: number }) {
    this.#cache = cache;
    this.#now = options.now;
    this.#logger = options.logger;
    this.#dropTimeoutMs = options.dropTimeoutMs ?? 250;
  }

  /** The cache to use now: the real one, or one that holds nothing while a failed drop is pending. */
  get current(): SessionCache {
    if (this.#failed.size === 0) return this.#cache;
    for (const entry of this.#failed.values()) if (this.#now() < entry.until) return bypassed;
    this.#failed.clear();
    return this.#cache;
  }

  /** True while the cache is bypassed. */
  get bypassing(): boolean {
    return this.current === bypassed;
  }

  /** Drops a user's (or one session's) entries; never throws and never waits past the timeout. */
  async drop(userId: string, sessionId?: string): Promise<void> {
    const scope: CacheScope = sessionId === undefined ? { userId } : { userId, sessionId };
    try {
      await this.#drop(scope);
    } catch (err) {
      const key = sessionId === undefined ? `u:${userId}` : `s:${userId}:${sessionId}`;
      this.#failed.set(key, { scope, until: this.#now() + maxCacheTtlMs });
      this.#logger?.warn({ err: { message: (err as Error).message } }, 'tokenstile: cache drop failed; bypassing the cache until the drop is redone');
    }
  }

  /** Redoes the failed drops (one run at a time); the bypass ends once none is left. */
  redo(): Promise<void> {
    if (this.#failed.size === 0) return Promise.resolve();
    return this.#redo.run().catch(() => {});
  }

  async #drop(scope: CacheScope): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the cache did not answer a drop within ${this.#dropTimeoutMs} ms`)), this.#dropTimeoutMs);
    });
    try {
      const dropped = scope.sessionId === undefined ? this.#cache.dropUser(scope.userId) : this.#cache.dropSession(scope.userId, scope.sessionId);
      dropped.catch(() => {}); // a late failure after the timeout is already handled
      await Promise.race([dropped, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
