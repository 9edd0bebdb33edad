/** A user as stored. Times in milliseconds since the epoch. */
export interface UserRecord {
  readonly id: string;
  /** Lower-cased and trimmed; unique. */
  readonly email: string;
  readonly name: string | null;
  readonly passwordHash: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly disabledAt: number | null;
}

/** The fields of a user that may change. */
export interface UserPatch {
  readonly name?: string | null;
  readonly passwordHash?: string;
  readonly disabledAt?: number | null;
}

/** Durable storage of accounts. */
export interface UserStore {
  /**
   * Inserts `user`. Returns false, writing nothing, when the email is taken; the check and the
   * insert are one atomic step (a unique index), so two racing registrations cannot both win.
   */
  create(user: UserRecord): Promise<boolean>;
  byId(id: string): Promise<UserRecord | null>;
  /** `email` must already be normalized. */
  byEmail(email: string): Promise<UserRecord | null>;
  /** Applies `patch` and sets `updatedAt`; null when there is no such user. */
  update(id: string, patch: UserPatch, now: number): Promise<UserRecord | null>;
}
