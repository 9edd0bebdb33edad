import type { CacheScope, SessionCache } from './session-cache.ts';

/**
 * The session cache in this process's memory (one instance), with the same versioned-drop
 * semantics as the shared one. At most `maxEntries` values are kept; the oldest go first.
 */
export class MemorySessionCache implements SessionCache {
  readonly kind = 'memory';
  readonly #versions = new Map<string, number>();
  readonly #values = new Map<string, { value: string; expiresAt: number }>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  #scopeVersion(scope: CacheScope): string {
    const user = this.#versions.get(`u:${scope.userId}`) ?? 0;
    if (scope.sessionId === undefined) return `${user}`;
    return `${user}.${this.#versions.get(`s:${scope.sessionId}`) ?? 0}`;
  }

  #key(scope: CacheScope, version: string, key: string): string {
    return `${scope.userId}|${scope.sessionId ?? ''}|${version}|${key}`;
  }

  async version(scope: CacheScope): Promise<string> {
    return this.#scopeVersion(scope);
  }

  async get(scope: CacheScope, key: string): Promise<string | null> {
    const k = this.#key(scope, this.#scopeVersion(scope), key);
    const hit = this.#values.get(k);
    if (!hit) return null;
    if (hit.expiresAt <= this.#now()) {
      this.#values.delete(k);
      return null;
    }
    return hit.value;
  }

  async set(scope: CacheScope, version: string, key: string, value: string, ttlMs: number): Promise<void> {
    // A write for a version that is no longer current would never be read: do not keep it.
    if (version !== this.#scopeVersion(scope)) return;
    const k = this.#key(scope, version, key);
    this.#values.delete(k);
    if (this.#values.size >= this.#maxEntries) this.#values.delete(this.#values.keys().next().value!);
    this.#values.set(k, { value, expiresAt: this.#now() + ttlMs });
  }

  async dropUser(userId: string): Promise<void> {
    this.#versions.set(`u:${userId}`, (this.#versions.get(`u:${userId}`) ?? 0) + 1);
  }

  async dropSession(_userId: string, sessionId: string): Promise<void> {
    this.#versions.set(`s:${sessionId}`, (this.#versions.get(`s:${sessionId}`) ?? 0) + 1);
  }

  async close(): Promise<void> {
    this.#values.clear();
  }
}
