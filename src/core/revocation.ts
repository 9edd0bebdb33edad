/**
 * A revocation as stored and as pushed to every verifier: session `id` is over, and every access
 * token with `sid = id` is refused. An entry is kept only until `expiresAt`, after which every token
 * of that session has expired anyway.
 *
 * Ending all of a user's sessions writes one entry per session it ended (the store knows exactly
 * which). A per-user "sessions created before T" cutoff would be smaller, but it compares the clocks
 * of the instance that created a session and the one that ended it: a revoker whose clock runs
 * behind misses sessions, one whose clock runs ahead refuses fresh logins.
 * `kind` leaves room for other kinds of entry in later versions of the feed.
 */
export interface Revocation {
  readonly kind: 'session';
  /** The session id. */
  readonly id: string;
  readonly userId: string;
  /** Milliseconds since the epoch. */
  readonly revokedAt: number;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}
