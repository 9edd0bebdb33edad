import type { Revocation } from './revocation.ts';
import type { RevokeTarget } from './session-store.ts';

/**
 * The durable log of revocations: one entry per session ended, written by `SessionStore.revoke`
 * in the same transaction that ends the session (so an ended session always has its entry, and
 * an entry always names an ended session), and read here by every instance to keep its in-memory
 * revocation list whole. Entries are kept until their `expiresAt`, when every access token of
 * their session has expired; times in ms since epoch.
 */
export interface RevocationLog {
  /** Entries not yet expired at `now`, in order of expiry (soonest first): what a starting instance loads. */
  liveRevocations(now: number): Promise<Revocation[]>;
  /**
   * Entries recorded after `cursor` (null: from now on), for instances that poll the store, in
   * the order they were recorded. Returns the cursor to pass next time, and `more: true` when it
   * read only part of what there is (a backlog larger than one read): the caller asks again at
   * once. An entry committed after a read is returned by a later read, never skipped.
   */
  revocationsSince(cursor: string | null, now: number): Promise<{ revocations: Revocation[]; cursor: string; more?: boolean }>;
  /**
   * The latest `revokedAt` at or after `since` among the sessions `target` names (already ended
   * ones: what `revoke` found nothing left to end in), or null. A revocation call that ends nothing
   * because another one just did must not answer before that one could have (RevocationSync).
   */
  lastRevokedAt(target: RevokeTarget, since: number): Promise<number | null>;
  /** Housekeeping, in small batches: deletes entries expired at `now`; returns how many went. */
  purge(now: number): Promise<number>;
}
