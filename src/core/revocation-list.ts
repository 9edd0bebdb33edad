import type { Revocation } from './revocation.ts';

/**
 * The in-process list of ended sessions that every protected request consults: one Map lookup,
 * no I/O. Fed at start from the store and afterwards by revocation events.
 *
 * Entries are purged lazily as they expire. Because every entry lives for the same span after its
 * revocation, insertion order is (nearly) expiry order, and purging walks from the front of the
 * Map only as far as the first live entry: the cost is proportional to what is removed.
 */
export class RevocationList {
  readonly #sessions = new Map<string, number>();
  #nextPurge = 0;

  /** Records a revocation; idempotent. True when the session was not in the list before. */
  add(r: Pick<Revocation, 'id' | 'expiresAt'>, now: number): boolean {
    if (r.expiresAt <= now) return false;
    const prev = this.#sessions.get(r.id);
    if (prev === undefined || prev < r.expiresAt) {
      // Re-inserted at the back, so the Map stays in expiry order for purge().
      this.#sessions.delete(r.id);
      this.#sessions.set(r.id, r.expiresAt);
    }
    if (now >= this.#nextPurge) this.purge(now);
    return prev === undefined;
  }

  /** Every entry as `[session id, expiresAt]`, soonest expiry (roughly) first. */
  entries(): IterableIterator<[string, number]> {
    return this.#sessions.entries();
  }

  /** True when session `sid` has been ended. */
  isRevoked(sid: string): boolean {
    return this.#sessions.has(sid);
  }

  /** Drops expired entries. */
  purge(now: number): void {
    this.#nextPurge = now + 1000;
    for (const [sid, expiresAt] of this.#sessions) {
      if (expiresAt > now) break;
      this.#sessions.delete(sid);
    }
  }

  get size(): number {
    return this.#sessions.size;
  }
}
