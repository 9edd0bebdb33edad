import type { CredentialRecord, CredentialStore } from '../../core/credential-store.ts';
import type { PostgresDatabase, Query } from './postgres-database.ts';

interface CredentialRow {
  id: string;
  user_id: string;
  kind: string;
  secret: string;
  created_at: number;
  updated_at: number;
}

function toCredential(r: CredentialRow): CredentialRecord {
  return { id: r.id, userId: r.user_id, kind: r.kind, secret: r.secret, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** Inserts `c` (for its user, which the caller has checked or just created). */
export async function insertCredential(query: Query, c: CredentialRecord): Promise<void> {
  await query(
    'INSERT INTO credentials (id, user_id, kind, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [c.id, c.userId, c.kind, c.secret, c.createdAt, c.updatedAt],
  );
}

/** Moves the user's stamp on, taking the user row's lock; the new stamp, or null for no user. */
async function bumpStamp(query: Query, userId: string, now: number): Promise<number | null> {
  const { rows } = await query<{ credential_stamp: number }>(
    'UPDATE users SET credential_stamp = credential_stamp + 1, updated_at = $2 WHERE id = $1 RETURNING credential_stamp',
    [userId, now],
  );
  return rows[0]?.credential_stamp ?? null;
}

/**
 * Credentials in PostgreSQL. A change moves its user's stamp first, in the same transaction, so
 * it holds the user row's lock until it commits: a session insert (`SELECT … FOR SHARE` on that
 * row) racing it waits and re-checks the stamp as committed, and one that committed first is
 * there for the change's revocation to end.
 */
export class PostgresCredentialStore implements CredentialStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async list(userId: string, kind: string): Promise<CredentialRecord[]> {
    const { rows } = await this.#db.query<CredentialRow>(
      'SELECT * FROM credentials WHERE user_id = $1 AND kind = $2 ORDER BY created_at, id',
      [userId, kind],
    );
    return rows.map(toCredential);
  }

  async add(c: CredentialRecord): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `INSERT INTO credentials (id, user_id, kind, secret, created_at, updated_at)
       SELECT $1, users.id, $3, $4, $5, $6 FROM users WHERE users.id = $2
       ON CONFLICT DO NOTHING`,
      [c.id, c.userId, c.kind, c.secret, c.createdAt, c.updatedAt],
    );
    return rowCount === 1;
  }

  async replace(c: CredentialRecord, now: number): Promise<number | null> {
    return this.#db.transaction(async (query) => {
      const stamp = await bumpStamp(query, c.userId, now);
      if (stamp === null) return null;
      await query('DELETE FROM credentials WHERE user_id = $1 AND kind = $2', [c.userId, c.kind]);
      await insertCredential(query, c);
      return stamp;
    });
  }

  async remove(userId: string, id: string, now: number): Promise<boolean> {
    return this.#db.transaction(async (query) => {
      // The stamp first: the user row's lock orders this against racing sign-ins.
      if ((await bumpStamp(query, userId, now)) === null) return false;
      const { rowCount } = await query('DELETE FROM credentials WHERE user_id = $1 AND id = $2', [userId, id]);
      if (rowCount !== 1) throw new NoSuchCredential();
      return true;
    }).catch((err: unknown) => {
      if (err instanceof NoSuchCredential) return false;
      throw err;
    });
  }
}

/** Rolls `remove` back (the stamp stays) when there was nothing to remove. */
class NoSuchCredential extends Error {}
