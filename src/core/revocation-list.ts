import { uuidv7Time } from './ids.ts';
import type { Revocation } from './revocation.ts';

/**
 * The in-process list of ended sessions that every protected request consults: two Map lookups,
 * no I/O. Fed at start from the store and afterwards by revocation events.
 *
 * Entries are purged lazily as they expire. Because every entry lives for the same span after its
 * revocation, insertion order is (nearly) expiry order, and purging walks from the front of the
 * Map only as far as the first live entry: the cost is proportional to what is removed.
 */
export class RevocationList {
  readonly #sessions = new Map<string, number>();
  readonly #users = new Map<string, { cutoff: number; expiresAt: number }>();
  #nextPurge = 0;

  /** Records a revocation; idempotent. */
  add(r: Revocation, now: number): void {
    if (r.expiresAt <= now) return;
    if (r.kind === 'session') {
      const prev = this.#sessions.get(r.id);
      if (prev === undefined || prev < r.expiresAt) {
        // Re-inserted at the back, so the Map stays in expiry order for purge().
        this.#sessions.delete(r.id);
        this.#sessions.set(r.id, r.expiresAt);
      }
    } else {
      const prev = this.#users.get(r.id);
      if (prev === undefined || prev.cutoff < r.revokedAt) {
        this.#users.delete(r.id);
        this.#users.set(r.id, { cutoff: r.revokedAt, expiresAt: r.expiresAt });
      }
    }
    if (now >= this.#nextPurge) this.purge(now);
  }

  /** True when the session `sid` of user `sub` has been ended. */
  isRevoked(sid: string, sub: string): boolean {
    if (this.#sessions.has(sid)) return true;
    if (this.#users.size === 0) return false;
    const user = this.#users.get(sub);
    // A sid whose creation time cannot be read counts as revoked (fail closed).
    return user !== undefined && !(uuidv7Time(sid) > user.cutoff);
  }

  /** The "created at or before" cutoff of user `userId`, or undefined. */
  userCutoff(userId: string): number | undefined {
    return this.#users.get(userId)?.cutoff;
  }

  /** Drops expired entries. */
  purge(now: number): void {
    this.#nextPurge = now + 1000;
    for (const [sid, expiresAt] of this.#sessions) {
      if (expiresAt > now) break;
      this.#sessions.delete(sid);
    }
    for (const [uid, entry] of this.#users) {
      if (entry.expiresAt > now) break;
      this.#users.delete(uid);
    }
  }

  get size(): number {
    return this.#sessions.size + this.#users.size;
  }
}
