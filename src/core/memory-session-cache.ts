import type { CacheScope, SessionCache } from './session-cache.ts';

/**
 * The session cache in this process's memory (one instance), with the same versioned-drop
 * semantics as the shared one. At most `maxEntries` values are kept; the oldest go first. Values
 * live at most `maxTtlMs`, so a scope's version can be forgotten that long after its last drop
 * (everything written under an older version has expired by then): memory follows recent drops.
 */
export class MemorySessionCache implements SessionCache {
  readonly kind = 'memory';
  readonly #versions = new Map<string, { version: number; droppedAt: number }>();
  readonly #values = new Map<string, { value: string; expiresAt: number }>();
  readonly #maxEntries: number;
  readonly #maxTtlMs: number;
  readonly #now: () => number;
  #nextSweep = 0;

  constructor(options: { maxEntries?: number; maxTtlMs?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#maxTtlMs = options.maxTtlMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
  }

  #scopeVersion(scope: CacheScope): string {
    const user = this.#versions.get(`u:${scope.userId}`)?.version ?? 0;
    if (scope.sessionId === undefined) return `${user}`;
    return `${user}.${this.#versions.get(`s:${scope.sessionId}`)?.version ?? 0}`;
  }

  #drop(key: string): void {
    const now = this.#now();
    const version = (this.#versions.get(key)?.version ?? 0) + 1;
    // Re-inserted at the back, so the Map stays in order of drop time for the sweep.
    this.#versions.delete(key);
    this.#versions.set(key, { version, droppedAt: now });
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 10_000;
    for (const [k, v] of this.#versions) {
      if (v.droppedAt > now - this.#maxTtlMs) break;
      this.#versions.delete(k);
    }
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
    this.#values.set(k, { value, expiresAt: this.#now() + Math.min(ttlMs, this.#maxTtlMs) });
  }

  async dropUser(userId: string): Promise<void> {
    this.#drop(`u:${userId}`);
  }

  async dropSession(_userId: string, sessionId: string): Promise<void> {
    this.#drop(`s:${sessionId}`);
  }

  /** Scopes whose version is remembered (for tests and metrics). */
  get trackedScopes(): number {
    return this.#versions.size;
  }

  async close(): Promise<void> {
    this.#values.clear();
  }
}
