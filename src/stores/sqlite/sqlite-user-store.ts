import type { DatabaseSync } from 'node:sqlite';
import type { UserPatch, UserRecord, UserStore } from '../../core/user-store.ts';

type Row = Record<string, unknown>;

/** A `users` row as a record; null for no row. */
export function toUser(row: Row | undefined): UserRecord | null {
  if (!row) return null;
  return {
    id: row.id as string,
    email: row.email as string,
    name: (row.name as string | null) ?? null,
    passwordHash: row.password_hash as string,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    disabledAt: (row.disabled_at as number | null) ?? null,
  };
}

/** Accounts in SQLite; emails unique by index. */
export class SqliteUserStore implements UserStore {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #byId;
  readonly #byEmail;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO users (id, email, name, password_hash, created_at, updated_at, disabled_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`,
    );
    this.#byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.#byEmail = db.prepare('SELECT * FROM users WHERE email = ?');
  }

  async create(u: UserRecord): Promise<boolean> {
    const r = this.#insert.run(u.id, u.email, u.name, u.passwordHash, u.createdAt, u.updatedAt, u.disabledAt);
    return r.changes === 1;
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
    if (patch.passwordHash !== undefined) (sets.push('password_hash = ?'), values.push(patch.passwordHash));
    if (patch.disabledAt !== undefined) (sets.push('disabled_at = ?'), values.push(patch.disabledAt));
    const row = this.#db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ? RETURNING *`).get(...values, id);
    return toUser(row as Row | undefined);
  }
}
