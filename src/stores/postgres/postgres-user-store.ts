import type { CredentialRecord } from '../../core/credential-store.ts';
import type { UserPatch, UserRecord, UserStore } from '../../core/user-store.ts';
import { insertCredential } from './postgres-credential-store.ts';
import type { PostgresDatabase, Query } from './postgres-database.ts';

/** A `users` row as pg returns it. */
export interface UserRow {
  id: string;
  email: string;
  name: string | null;
  credential_stamp: number;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
  email_verified_at: number | null;
}

/** A `users` row as a record; null for no row. */
export function toUser(row: UserRow | undefined): UserRecord | null {
  if (!row) return null;
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    credentialStamp: row.credential_stamp,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    disabledAt: row.disabled_at,
    emailVerifiedAt: row.email_verified_at,
  };
}

/** Accounts in PostgreSQL; emails unique by index. */
export class PostgresUserStore implements UserStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async create(u: UserRecord, credentials: readonly CredentialRecord[] = []): Promise<boolean> {
    // The unique index is the check: of racing inserts one lands, the others do nothing.
    const insertUser = (query: Query) => query(
      `INSERT INTO users (id, email, name, credential_stamp, created_at, updated_at, disabled_at, email_verified_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email) DO NOTHING`,
      [u.id, u.email, u.name, u.credentialStamp, u.createdAt, u.updatedAt, u.disabledAt, u.emailVerifiedAt],
    );
    if (credentials.length === 0) return (await insertUser(this.#db.query)).rowCount === 1;
    return this.#db.transaction(async (query) => {
      if ((await insertUser(query)).rowCount !== 1) return false;
      for (const c of credentials) await insertCredential(query, { ...c, userId: u.id });
      return true;
    });
  }

  async byId(id: string): Promise<UserRecord | null> {
    const { rows } = await this.#db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return toUser(rows[0]);
  }

  async byEmail(email: string): Promise<UserRecord | null> {
    const { rows } = await this.#db.query<UserRow>('SELECT * FROM users WHERE email = $1', [email]);
    return toUser(rows[0]);
  }

  async update(id: string, patch: UserPatch, now: number): Promise<UserRecord | null> {
    const values: Array<string | number | null> = [id, now];
    const sets = ['updated_at = $2'];
    const set = (column: string, value: string | number | null) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (patch.name !== undefined) set('name', patch.name);
    if (patch.disabledAt !== undefined) set('disabled_at', patch.disabledAt);
    if (patch.emailVerifiedAt !== undefined) set('email_verified_at', patch.emailVerifiedAt);
    const { rows } = await this.#db.query<UserRow>(`UPDATE users SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, values);
    return toUser(rows[0]);
  }

  async changeEmail(id: string, email: string, verifiedAt: number | null, now: number): Promise<UserRecord | null | 'email_taken'> {
    // The unique index is the check: a racing registration or change of the same email commits
    // first (and this one fails) or waits for this one and fails itself.
    try {
      const { rows } = await this.#db.query<UserRow>(
        'UPDATE users SET email = $2, email_verified_at = $3, updated_at = $4 WHERE id = $1 RETURNING *',
        [id, email, verifiedAt, now],
      );
      return toUser(rows[0]);
    } catch (err) {
      if ((err as { code?: unknown }).code === '23505') return 'email_taken';
      throw err;
    }
  }
}
