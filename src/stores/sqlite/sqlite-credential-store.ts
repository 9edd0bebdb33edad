import type { DatabaseSync } from 'node:sqlite';
import type { CredentialRecord, CredentialStore } from '../../core/credential-store.ts';
import { transaction } from './sqlite-database.ts';

type Row = Record<string, unknown>;

/** Inserts a credential from named parameters (`CredentialRecord`'s fields). */
export const insertCredentialSql = `INSERT INTO credentials (id, user_id, kind, secret, created_at, updated_at)
  VALUES ($id, $userId, $kind, $secret, $createdAt, $updatedAt)`;

function toCredential(r: Row): CredentialRecord {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    kind: r.kind as string,
    secret: r.secret as string,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

/**
 * Credentials in SQLite. A change and the move of its user's stamp are one IMMEDIATE transaction,
 * and a session insert reads the stamp in its own single statement, so SQLite's one writer orders
 * them: the session either sees the old stamp and is there for the change's revocation, or sees
 * the new one and is not written.
 */
export class SqliteCredentialStore implements CredentialStore {
  readonly #db: DatabaseSync;
  readonly #list;
  readonly #insert;
  readonly #bump;
  readonly #deleteKind;
  readonly #deleteOne;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#list = db.prepare('SELECT * FROM credentials WHERE user_id = ? AND kind = ? ORDER BY created_at, id');
    this.#insert = db.prepare(`${insertCredentialSql} ON CONFLICT DO NOTHING`);
    this.#bump = db.prepare('UPDATE users SET credential_stamp = credential_stamp + 1, updated_at = ? WHERE id = ? RETURNING credential_stamp');
    this.#deleteKind = db.prepare('DELETE FROM credentials WHERE user_id = ? AND kind = ?');
    this.#deleteOne = db.prepare('DELETE FROM credentials WHERE user_id = ? AND id = ?');
  }

  async list(userId: string, kind: string): Promise<CredentialRecord[]> {
    return (this.#list.all(userId, kind) as Row[]).map(toCredential);
  }

  async add(c: CredentialRecord): Promise<boolean> {
    // The foreign key refuses a credential of no user; turn that refusal into `false`.
    try {
      return this.#insert.run({ ...c }).changes === 1;
    } catch (err) {
      if ((err as { errcode?: number }).errcode === 787) return false; // SQLITE_CONSTRAINT_FOREIGNKEY
      throw err;
    }
  }

  async replace(c: CredentialRecord, now: number): Promise<number | null> {
    return transaction(this.#db, () => {
      const row = this.#bump.get(now, c.userId) as Row | undefined;
      if (!row) return null;
      this.#deleteKind.run(c.userId, c.kind);
      this.#insert.run({ ...c });
      return row.credential_stamp as number;
    });
  }

  async remove(userId: string, id: string, now: number): Promise<boolean> {
    return transaction(this.#db, () => {
      if (this.#deleteOne.run(userId, id).changes !== 1) return false;
      this.#bump.run(now, userId);
      return true;
    });
  }
}
