import type { Revocation } from './revocation.ts';
import type { UserRecord } from './user-store.ts';

/**
 * A session: one login on one device. It carries the rotation state of its refresh token, so the
 * table holds one row per session however many times it is refreshed. Times in ms since epoch.
 */
export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** The session ends here unless refreshed (sliding: every refresh moves it). */
  readonly expiresAt: number;
  /** The latest expiry of any access token issued for this session. */
  readonly accessExpiresAt: number;
  readonly revokedAt: number | null;
  readonly userAgent: string | null;
  readonly ip: string | null;
  /** Generation of the current refresh token; starts at 0 and grows by one per rotation. */
  readonly generation: number;
  /** SHA-256 of the current refresh token's secret. */
  readonly refreshHash: string;
  /** SHA-256 of the token spent by the last rotation, for the grace window. */
  readonly previousHash: string | null;
  readonly rotatedAt: number | null;
  /** The current token, sealed under the previous one (see `sealSuccessor`). */
  readonly graceBox: string | null;
  /**
   * SHA-256 of the secret of the session's current opaque access handle (opaque token format
   * only; null otherwise and once the session has ended).
   */
  readonly accessHash: string | null;
  /**
   * How the user authenticated when the session started, as RFC 8176 values (`['pwd']` for a
   * password sign-in); every access token of the session carries it as `amr`.
   */
  readonly amr: readonly string[];
  /**
   * When the user last proved who they are in this session, ms: the sign-in, or a later
   * re-authentication (`setAuthTime`). Refreshes keep it; access tokens carry it as `auth_time`.
   */
  readonly authTime: number;
  /**
   * The JWK SHA-256 thumbprint (RFC 7638) of the key the session is bound to by DPoP (RFC 9449),
   * set at sign-in and never changed; null (or absent) for a Bearer session.
   */
  readonly dpopJkt?: string | null;
}

/** What a successful rotation writes. */
export interface Rotation {
  readonly generation: number;
  readonly refreshHash: string;
  readonly previousHash: string;
  readonly rotatedAt: number;
  readonly graceBox: string;
  readonly expiresAt: number;
  /** Expiry of the access token issued with this rotation. */
  readonly accessExpiresAt: number;
  /** The new opaque access handle's hash (null in JWT format): the previous handle stops working. */
  readonly accessHash: string | null;
  /**
   * The DPoP key thumbprint the refresh request proved possession of, or null: a session bound to
   * a key rotates only with a proof by that key (a mismatch rotates nothing). Not written.
   */
  readonly dpopJkt?: string | null;
}

/** What `rotate` reads back from the session it rotated. */
export interface RotatedSession {
  readonly user: UserRecord;
  readonly amr: readonly string[];
  readonly authTime: number;
  /** The session's DPoP binding (`SessionRecord.dpopJkt`); absent for a Bearer session. */
  readonly dpopJkt?: string | null;
}

/** Which sessions a revocation ends. */
export type RevokeTarget =
  /** One session; with `userId`, only if it belongs to that user. */
  | { readonly sessionId: string; readonly userId?: string }
  /** Every live session of the user, or all but `exceptSessionId`. */
  | { readonly userId: string; readonly exceptSessionId?: string };

/**
 * Durable storage of sessions: one row per sign-in, carrying its refresh-token rotation state.
 * Ending sessions (`revoke`) also records them in the revocation log (`RevocationLog`, read by
 * every instance) in the same transaction: the log and the sessions never disagree.
 */
export interface SessionStore {
  /**
   * Inserts `session` if, in the same atomic step, its user exists, is not disabled and still has
   * credential stamp `credentialStamp` (the one read with the credentials the sign-in checked).
   * False, writing nothing, otherwise: a sign-in racing a credential change (which moves the
   * stamp, `CredentialStore`) or a disable cannot leave a session behind.
   */
  create(session: SessionRecord, credentialStamp: number): Promise<boolean>;
  get(id: string): Promise<SessionRecord | null>;
  /** The user's sessions that are neither revoked nor expired at `now`, newest first. */
  listLive(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * One page of every user's sessions that are neither revoked nor expired at `now`, by id,
   * highest (newest) first: at most `limit`, and only ids below `before` when given (the last id
   * of the previous page). Ids never repeat, so paging neither skips nor repeats a session that
   * outlives it; sessions created meanwhile sort before the first page and are not shown.
   */
  listAllLive(now: number, page: { readonly limit: number; readonly before?: string }): Promise<SessionRecord[]>;
  /**
   * The one refresh step, consume exactly once in one atomic statement: replaces the refresh state
   * of session `id` with `next` if and only if the session is at generation `fromGeneration` with
   * refresh hash `refreshHash`, is not revoked, not expired at `now`, is bound to no DPoP key or to `next.dpopJkt`, and its
   * user exists and is not disabled. Sets `lastUsedAt` to `next.rotatedAt`; `accessExpiresAt` only grows. Returns
   * that user as stored, and the session's `amr` and `authTime`, when this call rotated the session; null,
   * writing nothing, otherwise (the caller then reads the session to tell a grace retry, a replay
   * or an invalid token apart). Of any number of concurrent callers, at most one gets a user.
   */
  rotate(id: string, fromGeneration: number, refreshHash: string, next: Rotation, now: number): Promise<RotatedSession | null>;
  /**
   * Records that an access token valid until `accessExpiresAt` is about to be issued for session
   * `id` (a grace retry). False when the session is revoked: then no token may be issued.
   */
  extendAccess(id: string, accessExpiresAt: number): Promise<boolean>;
  /**
   * Records a re-authentication: sets the session's `authTime` to `at` (and its `amr`, when
   * given). False, writing nothing, when the session is revoked or expired at `at`.
   */
  setAuthTime(sessionId: string, at: number, amr?: readonly string[]): Promise<boolean>;
  /**
   * The sessions that still matter at `now` (not revoked, not expired or with an access token that
   * may still be valid) and may have been issued an access token between `from` and `to`: created
   * at or before `to` and last signed in or refreshed at or after `from`. A superset: a session
   * used before and after the interval but not during it is included. Unordered.
   */
  usedBetween(from: number, to: number, now: number): Promise<Array<{ readonly id: string; readonly userId: string }>>;
  /**
   * Ends the target's sessions that are not yet revoked and still matter at `at` (not expired, or
   * with an access token that may still be valid) and, in the same transaction, records and
   * returns one revocation per session ended. Each revocation lives until its session's
   * `accessExpiresAt + headroomMs`: long enough for every token of that session, whatever the
   * configuration of the process that revokes it. It clears the sessions' `accessHash`, so their
   * opaque access handles map to nothing. Sessions already ended produce nothing.
   */
  revoke(target: RevokeTarget, at: number, headroomMs: number): Promise<Revocation[]>;
  /**
   * Housekeeping, in small batches: deletes sessions that are expired or revoked and whose access
   * tokens are all past `accessExpiresAt + headroomMs`, and clears grace boxes older than
   * `graceMs`. Returns how many sessions went. (The log's entries go by `RevocationLog.purge`.)
   */
  purge(now: number, options: { headroomMs: number; graceMs: number }): Promise<number>;
}
