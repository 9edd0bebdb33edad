import type { DatabaseSync } from 'node:sqlite';
import type { CredentialRecord } from '../../core/credential-store.ts';
import type { UserPatch, UserRecord, UserStore } from '../../core/user-store.ts';
import { insertCredentialSql } from './sqlite-credential-store.ts';
import { transaction } from './sqlite-database.ts';

type Row = Record<string, unknown>;

/** SQLITE_CONSTRAINT_UNIQUE (2067) or _PRIMARYKEY (1555). */
function isUniqueViolation(err: unknown): boolean {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  return errcode === 2067 || errcode === 1555;
}

/** The `users` columns a record is read from, for statements that return a user. */
export const userColumns = ['email', 'name', 'credential_stamp', 'created_at', 'updated_at', 'disabled_at', 'email_verified_at'] as const;

/** A `users` row as a record; null for no row. */
export function toUser(row: Row | undefined): UserRecord | null {
  if (!row) return null;
  return {
    id: row.id as string,
    email: row.email as string,
    name: (row.name as string | null) ?? null,
    credentialStamp: row.credential_stamp as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    disabledAt: (row.disabled_at as number | null) ?? null,
    emailVerifiedAt: (row.email_verified_at as number | null) ?? null,
  };
}

/** Accounts in SQLite; emails unique by index. */
export class SqliteUserStore implements UserStore {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #insertCredential;
  readonly #byId;
  readonly #byEmail;
  readonly #changeEmail;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO users (id, email, name, credential_stamp, created_at, updated_at, disabled_at, email_verified_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`,
    );
    this.#insertCredential = db.prepare(insertCredentialSql);
    this.#byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.#byEmail = db.prepare('SELECT * FROM users WHERE email = ?');
    this.#changeEmail = db.prepare('UPDATE users SET email = ?, email_verified_at = ?, updated_at = ? WHERE id = ? RETURNING *');
  }

  async create(u: UserRecord, credentials: readonly CredentialRecord[] = []): Promise<boolean> {
    return transaction(this.#db, () => {
      const r = this.#insert.run(u.id, u.email, u.name, u.credentialStamp, u.createdAt, u.updatedAt, u.disabledAt, u.emailVerifiedAt);
      if (r.changes !== 1) return false;
      for (const c of credentials) this.#insertCredential.run({ ...c, userId: u.id });
      return true;
    });
  }

  async byId(id: string): Promise<UserRecord | null> {
    return toUser(this.#byId.get(id) as Row | undefined);
  }

  async byEmail(email: string): Promise<UserRecord | null> {
    return toUser(this.#byEmail.get(email) as Row | undefined);
  }

  async update(id: string, patch: UserPatch, now: number): Promise<UserRecord | null> {
    const sets: string[] = ['updated_at = ?'];
    const values: Array<string | number | null> = [now];
    if (patch.name !== undefined) (sets.push('name = ?'), values.push(patch.name));
    if (patch.disabledAt !== undefined) (sets.push('disabled_at = ?'), values.push(patch.disabledAt));
    if (patch.emailVerifiedAt !== undefined) (sets.push('email_verified_at = ?'), values.push(patch.emailVerifiedAt));
    const row = this.#db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ? RETURNING *`).get(...values, id);
    return toUser(row as Row | undefined);
  }

  async changeEmail(id: string, email: string, verifiedAt: number | null, now: number): Promise<UserRecord | null | 'email_taken'> {
    // The unique index is the check: one statement, so a racing registration or change of the
    // same email either commits first (and this one fails) or fails itself.
    try {
      return toUser(this.#changeEmail.get(email, verifiedAt, now, id) as Row | undefined);
    } catch (err) {
      if (isUniqueViolation(err)) return 'email_taken';
      throw err;
    }
  }
}
