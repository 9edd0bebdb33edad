import type { AuditEntry, AuditLog } from '../../core/audit-log.ts';
import type { PostgresDatabase } from './postgres-database.ts';

interface Row {
  seq: number;
  at: number;
  type: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, string>;
}

/** The audit trail in PostgreSQL. */
export class PostgresAuditLog implements AuditLog {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#db.query(
      `INSERT INTO audit_events (at, type, user_id, session_id, ip, user_agent, detail)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])`,
      [
        entries.map((e) => e.at), entries.map((e) => e.type), entries.map((e) => e.userId), entries.map((e) => e.sessionId),
        entries.map((e) => e.ip), entries.map((e) => e.userAgent), entries.map((e) => JSON.stringify(e.detail)),
      ],
    );
  }

  async query(filter: { userId?: string; limit: number; beforeSeq?: number }): Promise<AuditEntry[]> {
    const { rows } = await this.#db.query<Row>(
      `SELECT * FROM audit_events WHERE ($1::text IS NULL OR user_id = $1) AND seq < $2
        ORDER BY seq DESC LIMIT $3`,
      [filter.userId ?? null, filter.beforeSeq ?? Number.MAX_SAFE_INTEGER, filter.limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq), at: Number(r.at), type: r.type, userId: r.user_id, sessionId: r.session_id,
      ip: r.ip, userAgent: r.user_agent, detail: r.detail,
    }));
  }

  async purge(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const { rowCount } = await this.#db.query(
        'DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE at < $1 LIMIT 500 FOR UPDATE SKIP LOCKED)',
        [before],
      );
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < 500) return total;
    }
  }
}
