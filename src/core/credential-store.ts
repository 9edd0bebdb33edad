/**
 * A way a user proves who they are: a password today; passkeys, TOTP secrets and external
 * identities plug in as further kinds, each feature naming its own kind, with no central list.
 * Times in milliseconds since the epoch.
 */
export interface CredentialRecord {
  /** Unique across all credentials (a UUIDv7). */
  readonly id: string;
  readonly userId: string;
  /** Which feature reads it, such as `password`: a short lower-case name. */
  readonly kind: string;
  /**
   * What the feature checks against, in its own format: for `password`, the argon2id hash.
   * Never the secret itself.
   */
  readonly secret: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * Durable storage of credentials, by user and kind.
 *
 * Every change that could let someone sign in who could not before, or stop someone who could,
 * moves the user's credential stamp (`UserRecord.credentialStamp`) on in the same atomic step.
 * `SessionStore.create` compares that stamp, so a sign-in checked against the old credentials
 * that races the change either commits before it (and its session is there to be ended) or
 * writes nothing.
 */
export interface CredentialStore {
  /** The user's credentials of `kind`, oldest first; empty when there are none (or no such user). */
  list(userId: string, kind: string): Promise<CredentialRecord[]>;
  /**
   * Adds a credential to its user without moving the stamp (an added way in ends no session).
   * False, writing nothing, when the user does not exist or the id is taken.
   */
  add(credential: CredentialRecord): Promise<boolean>;
  /**
   * Makes `credential` the user's only credential of its kind (a password change or reset) and
   * moves the user's stamp on, in one transaction; sets the user's `updatedAt` to `now`. Returns
   * the new stamp, or null, writing nothing, when there is no such user.
   */
  replace(credential: CredentialRecord, now: number): Promise<number | null>;
  /**
   * Deletes the user's credential `id` and moves the user's stamp on, in one transaction. False,
   * writing nothing, when the user has no such credential.
   */
  remove(userId: string, id: string, now: number): Promise<boolean>;
}

/** The kind of the password credential (`secret`: an argon2id hash of the normalized password). */
export const passwordCredential = 'password';
