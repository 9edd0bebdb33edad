/**
 * A revocation as stored and as pushed to every verifier.
 * - `session`: the session `id` is over; every access token with `sid = id` is refused.
 * - `user`: every session of user `id` created at or before `revokedAt` is over ("log out
 *   everywhere" in one entry, however many sessions the user has).
 * An entry is kept only until `expiresAt`, after which every token it covers has expired anyway.
 */
export interface Revocation {
  readonly kind: 'session' | 'user';
  readonly id: string;
  readonly userId: string;
  /** Milliseconds since the epoch. */
  readonly revokedAt: number;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}
