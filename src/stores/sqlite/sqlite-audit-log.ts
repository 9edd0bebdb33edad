import type { DatabaseSync } from 'node:sqlite';
import type { AuditEntry, AuditLog } from '../../core/audit-log.ts';

type Row = Record<string, unknown>;

function toEntry(r: Row): AuditEntry {
  return {
    seq: r.seq as number,
    at: r.at as number,
    type: r.type as string,
    userId: (r.user_id as string | null) ?? null,
    sessionId: (r.session_id as string | null) ?? null,
    ip: (r.ip as string | null) ?? null,
    userAgent: (r.user_agent as string | null) ?? null,
    detail: JSON.parse(r.detail as string),
  };
}

/** The audit trail in SQLite. */
export class SqliteAuditLog implements AuditLog {
  readonly #db: DatabaseSync;
  readonly #insert;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare('INSERT INTO audit_events (at, type, user_id, session_id, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)');
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    for (const e of entries) this.#insert.run(e.at, e.type, e.userId, e.sessionId, e.ip, e.userAgent, JSON.stringify(e.detail));
  }

  async query(filter: { userId?: string; limit: number; beforeSeq?: number }): Promise<AuditEntry[]> {
    const rows = this.#db
      .prepare(
        `SELECT * FROM audit_events WHERE ($user IS NULL OR user_id = $user) AND seq < $before
          ORDER BY seq DESC LIMIT $limit`,
      )
      .all({ user: filter.userId ?? null, before: filter.beforeSeq ?? Number.MAX_SAFE_INTEGER, limit: filter.limit });
    return (rows as Row[]).map(toEntry);
  }

  async purge(before: number): Promise<number> {
    // In batches that yield to the event loop (node:sqlite is synchronous).
    const statement = this.#db.prepare('DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE at < ? LIMIT 500)');
    let total = 0;
    for (;;) {
      const n = Number(statement.run(before).changes);
      total += n;
      if (n < 500) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
