import type { DatabaseSync } from 'node:sqlite';
import type { OneTimeTokenRecord, OneTimeTokenStore } from '../../core/one-time-tokens.ts';
import { purgeInBatches, transaction } from './sqlite-database.ts';

type Row = Record<string, unknown>;

function toRecord(r: Row): OneTimeTokenRecord {
  return {
    hash: r.hash as string,
    purpose: r.purpose as string,
    userId: (r.user_id as string | null) ?? null,
    subject: (r.subject as string | null) ?? null,
    data: r.data as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
  };
}

/** One-time tokens in SQLite; `consume` is one DELETE … RETURNING, which one writer serializes. */
export class SqliteOneTimeTokenStore implements OneTimeTokenStore {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #deleteForPurpose;
  readonly #consume;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO one_time_tokens (hash, purpose, user_id, subject, data, created_at, expires_at)
       VALUES ($hash, $purpose, $userId, $subject, $data, $createdAt, $expiresAt)`,
    );
    this.#deleteForPurpose = db.prepare('DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ?');
    this.#consume = db.prepare('DELETE FROM one_time_tokens WHERE hash = ? AND purpose = ? AND expires_at > ? RETURNING *');
  }

  async insert(record: OneTimeTokenRecord, replace: boolean): Promise<void> {
    transaction(this.#db, () => {
      if (replace && record.userId !== null) this.#deleteForPurpose.run(record.userId, record.purpose);
      this.#insert.run({ ...record });
    });
  }

  async consume(purpose: string, hash: string, now: number): Promise<OneTimeTokenRecord | null> {
    const row = this.#consume.get(hash, purpose, now) as Row | undefined;
    return row ? toRecord(row) : null;
  }

  async revokeFor(userId: string, purposes: readonly string[]): Promise<number> {
    const marks = purposes.map(() => '?').join(', ');
    // Rare (a password change, a sign-in): prepared per call, for any number of purposes.
    const r = this.#db.prepare(`DELETE FROM one_time_tokens WHERE user_id = ? AND purpose IN (${marks})`).run(userId, ...purposes);
    return Number(r.changes);
  }

  async purge(now: number): Promise<number> {
    return purgeInBatches(this.#db, 'DELETE FROM one_time_tokens WHERE hash IN (SELECT hash FROM one_time_tokens WHERE expires_at <= ? LIMIT ?)', now);
  }
}
