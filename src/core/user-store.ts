import type { CredentialRecord } from './credential-store.ts';

/** A user as stored. Times in milliseconds since the epoch. */
export interface UserRecord {
  readonly id: string;
  /** Lower-cased and trimmed; unique. */
  readonly email: string;
  readonly name: string | null;
  /**
   * Moves on (grows) with every change of the user's credentials (`CredentialStore`); a session
   * is created only while it is still the value its sign-in was checked against.
   */
  readonly credentialStamp: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly disabledAt: number | null;
  /** When the user proved they receive mail at `email` (null: not verified, or changed since). */
  readonly emailVerifiedAt: number | null;
}

/** The fields of a user that may change. */
export interface UserPatch {
  readonly name?: string | null;
  readonly disabledAt?: number | null;
  readonly emailVerifiedAt?: number | null;
}

/**
 * Durable storage of accounts. A user may have no credential at all (one the host app signed in
 * itself, through OAuth or SSO); credentials live in the `CredentialStore`.
 */
export interface UserStore {
  /**
   * Inserts `user` with its first `credentials` (all of that user), in one transaction. Returns
   * false, writing nothing, when the email is taken; the check and the insert are one atomic step
   * (a unique index), so two racing registrations cannot both win.
   */
  create(user: UserRecord, credentials?: readonly CredentialRecord[]): Promise<boolean>;
  byId(id: string): Promise<UserRecord | null>;
  /** `email` must already be normalized. */
  byEmail(email: string): Promise<UserRecord | null>;
  /** Applies `patch` and sets `updatedAt`; null when there is no such user. */
  update(id: string, patch: UserPatch, now: number): Promise<UserRecord | null>;
  /**
   * Sets the user's (normalized) `email` and `emailVerifiedAt` together, and `updatedAt`. The
   * uniqueness check and the write are one atomic step: `email_taken`, writing nothing, when
   * another user has that email; null when there is no such user.
   */
  changeEmail(id: string, email: string, verifiedAt: number | null, now: number): Promise<UserRecord | null | 'email_taken'>;
}
