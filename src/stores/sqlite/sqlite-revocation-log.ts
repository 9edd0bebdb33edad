import type { DatabaseSync } from 'node:sqlite';
import type { Revocation } from '../../core/revocation.ts';
import type { RevocationLog } from '../../core/revocation-log.ts';
import type { RevokeTarget } from '../../core/session-store.ts';
import { purgeInBatches } from './sqlite-database.ts';

type Row = Record<string, unknown>;

/** Most rows read per poll. */
const feedBatch = 10_000;

function toRevocation(r: Row): Revocation {
  return {
    kind: 'session',
    id: r.subject as string,
    userId: r.user_id as string,
    revokedAt: r.revoked_at as number,
    expiresAt: r.expires_at as number,
  };
}

/**
 * The revocation log in SQLite: the `revocations` table, written by `SqliteSessionStore.revoke`
 * in its transaction; `seq` (an integer primary key) orders it, and a write lock held by one
 * writer at a time means a committed `seq` is never lower than one a reader has already seen.
 */
export class SqliteRevocationLog implements RevocationLog {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async liveRevocations(now: number): Promise<Revocation[]> {
    const rows = this.#db.prepare('SELECT * FROM revocations WHERE expires_at > ? ORDER BY expires_at, seq').all(now);
    return (rows as Row[]).map(toRevocation);
  }

  async revocationsSince(cursor: string | null, now: number): Promise<{ revocations: Revocation[]; cursor: string; more: boolean }> {
    if (cursor === null) {
      const row = this.#db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM revocations').get() as Row;
      return { revocations: [], cursor: String(row.seq), more: false };
    }
    const rows = this.#db
      .prepare(`SELECT * FROM revocations WHERE seq > ? ORDER BY seq LIMIT ${feedBatch}`)
      .all(Number(cursor)) as Row[];
    const last = rows.at(-1);
    return {
      revocations: rows.filter((r) => (r.expires_at as number) > now).map(toRevocation),
      cursor: last ? String(last.seq) : cursor,
      more: rows.length === feedBatch,
    };
  }

  async lastRevokedAt(target: RevokeTarget, since: number): Promise<number | null> {
    const row = (
      'sessionId' in target
        ? this.#db.prepare('SELECT MAX(revoked_at) AS at FROM sessions WHERE id = ? AND (? IS NULL OR user_id = ?) AND revoked_at >= ?').get(target.sessionId, target.userId ?? null, target.userId ?? null, since)
        : this.#db.prepare('SELECT MAX(revoked_at) AS at FROM sessions WHERE user_id = ? AND (? IS NULL OR id <> ?) AND revoked_at >= ?').get(target.userId, target.exceptSessionId ?? null, target.exceptSessionId ?? null, since)
    ) as Row | undefined;
    return typeof row?.at === 'number' ? row.at : null;
  }

  async purge(now: number): Promise<number> {
    return purgeInBatches(this.#db, 'DELETE FROM revocations WHERE seq IN (SELECT seq FROM revocations WHERE expires_at <= ? LIMIT ?)', now);
  }
}
