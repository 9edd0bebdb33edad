/**
 * A cache for data derived from a user or a session (a profile, a permission set), shared by
 * every instance when Redis-backed. It exists to save store reads, never to decide anything:
 *
 * - Every entry belongs to a user, and optionally to one of the user's sessions. `dropUser` and
 *   `dropSession` make every entry of that scope unreadable at once, on every instance.
 * - Dropping works by versions: a scope's entries are written under its current version, and a
 *   drop moves the version on. A write that raced a drop lands under the old version and is never
 *   read, so a slow writer cannot bring back what a logout or an update dropped.
 * - Callers treat any error as a miss and read the store (fail closed).
 * - A version must outlive every value written under an older one (implementations cap value TTLs
 *   and keep versions longer), or a reset version could make old entries readable again.
 */
export interface SessionCache {
  /** A short name for logs and metrics, such as `memory` or `redis`. */
  readonly kind: string;
  /** The current version of the scope, to be passed to `set` after reading the store. */
  version(scope: CacheScope): Promise<string>;
  /** The value cached for `key` in the scope's current version, or null. */
  get(scope: CacheScope, key: string): Promise<string | null>;
  /** Caches `value` under `version` (as read before the store was), for `ttlMs`. */
  set(scope: CacheScope, version: string, key: string, value: string, ttlMs: number): Promise<void>;
  /** Makes every entry of the user (and of all of the user's sessions) unreadable. */
  dropUser(userId: string): Promise<void>;
  /** Makes every entry of one session unreadable. */
  dropSession(userId: string, sessionId: string): Promise<void>;
  /** Releases what the cache itself holds (a shared connection stays with its opener). */
  close(): Promise<void>;
}

/** A user, or one session of a user. */
export interface CacheScope {
  readonly userId: string;
  readonly sessionId?: string;
}
