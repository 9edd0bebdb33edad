import type { OneTimeTokenRecord, OneTimeTokenStore } from '../../core/one-time-tokens.ts';
import { purgeInBatches, type PostgresDatabase, type Query } from './postgres-database.ts';

interface Row {
  hash: string;
  purpose: string;
  user_id: string | null;
  subject: string | null;
  data: string;
  created_at: number;
  expires_at: number;
}

function toRecord(r: Row): OneTimeTokenRecord {
  return { hash: r.hash, purpose: r.purpose, userId: r.user_id, subject: r.subject, data: r.data, createdAt: r.created_at, expiresAt: r.expires_at };
}

/**
 * One-time tokens in PostgreSQL. `consume` is one DELETE … RETURNING: a racer blocked on the row
 * lock finds the row gone when the winner commits, and deletes (and returns) nothing.
 */
export class PostgresOneTimeTokenStore implements OneTimeTokenStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async insert(record: OneTimeTokenRecord, replace: boolean): Promise<void> {
    const insert = (query: Query) => query(
      `INSERT INTO one_time_tokens (hash, purpose, user_id, subject, data, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [record.hash, record.purpose, record.userId, record.subject, record.data, record.createdAt, record.expiresAt],
    );
    if (!replace || record.userId === null) {
      await insert(this.#db.query);
      return;
    }
    await this.#db.transaction(async (query) => {
      // Two replacing inserts at once would each delete what the other had not yet committed and both
      // stay live (two working reset links). A lock on (user, purpose) until commit puts them in order.
      await query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`one_time_tokens:${record.userId}:${record.purpose}`]);
      await query('DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = $2', [record.userId, record.purpose]);
      await insert(query);
    });
  }

  async consume(purpose: string, hash: string, now: number): Promise<OneTimeTokenRecord | null> {
    const { rows } = await this.#db.query<Row>(
      'DELETE FROM one_time_tokens WHERE hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING *',
      [hash, purpose, now],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async revokeFor(userId: string, purposes: readonly string[]): Promise<number> {
    const { rowCount } = await this.#db.query('DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = ANY($2::text[])', [userId, [...purposes]]);
    return rowCount;
  }

  async purge(now: number): Promise<number> {
    return purgeInBatches(
      this.#db,
      'DELETE FROM one_time_tokens WHERE hash IN (SELECT hash FROM one_time_tokens WHERE expires_at <= $2 LIMIT $1 FOR UPDATE SKIP LOCKED)',
      now,
    );
  }
}
