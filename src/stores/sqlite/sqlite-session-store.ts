import type { DatabaseSync } from 'node:sqlite';
import type { Revocation } from '../../core/revocation.ts';
import type { RevokeTarget, Rotation, SessionRecord, SessionStore } from '../../core/session-store.ts';
import { transaction } from './sqlite-database.ts';

type Row = Record<string, unknown>;

function toSession(r: Row): SessionRecord {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    createdAt: r.created_at as number,
    lastUsedAt: r.last_used_at as number,
    expiresAt: r.expires_at as number,
    revokedAt: (r.revoked_at as number | null) ?? null,
    userAgent: (r.user_agent as string | null) ?? null,
    ip: (r.ip as string | null) ?? null,
    generation: r.generation as number,
    refreshHash: r.refresh_hash as string,
    previousHash: (r.previous_hash as string | null) ?? null,
    rotatedAt: (r.rotated_at as number | null) ?? null,
    graceBox: (r.grace_box as string | null) ?? null,
  };
}

function toRevocation(r: Row): Revocation {
  return {
    kind: r.kind as Revocation['kind'],
    id: r.subject as string,
    userId: r.user_id as string,
    revokedAt: r.revoked_at as number,
    expiresAt: r.expires_at as number,
  };
}

export class SqliteSessionStore implements SessionStore {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #get;
  readonly #listLive;
  readonly #rotate;
  readonly #record;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip,
                             generation, refresh_hash, previous_hash, rotated_at, grace_box)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#get = db.prepare('SELECT * FROM sessions WHERE id = ?');
    this.#listLive = db.prepare(
      `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       ORDER BY created_at DESC`,
    );
    // One statement: the WHERE clause is the compare and the SET the swap.
    this.#rotate = db.prepare(
      `UPDATE sessions
          SET generation = ?, refresh_hash = ?, previous_hash = ?, rotated_at = ?, grace_box = ?,
              expires_at = ?, last_used_at = ?
        WHERE id = ? AND generation = ? AND revoked_at IS NULL AND expires_at > ?`,
    );
    this.#record = db.prepare(
      'INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    );
  }

  async create(s: SessionRecord): Promise<void> {
    this.#insert.run(
      s.id, s.userId, s.createdAt, s.lastUsedAt, s.expiresAt, s.revokedAt, s.userAgent, s.ip,
      s.generation, s.refreshHash, s.previousHash, s.rotatedAt, s.graceBox,
    );
  }

  async get(id: string): Promise<SessionRecord | null> {
    const row = this.#get.get(id) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async listLive(userId: string, now: number): Promise<SessionRecord[]> {
    return (this.#listLive.all(userId, now) as Row[]).map(toSession);
  }

  async rotate(id: string, fromGeneration: number, n: Rotation, now: number): Promise<boolean> {
    const r = this.#rotate.run(
      n.generation, n.refreshHash, n.previousHash, n.rotatedAt, n.graceBox, n.expiresAt, n.rotatedAt,
      id, fromGeneration, now,
    );
    return r.changes === 1;
  }

  async revoke(target: RevokeTarget, at: number, expiresAt: number): Promise<Revocation[]> {
    return transaction(this.#db, () => {
      const out: Revocation[] = [];
      let ended: Row[];
      if ('sessionId' in target) {
        ended = this.#db
          .prepare(
            `UPDATE sessions SET revoked_at = ?
              WHERE id = ? AND (? IS NULL OR user_id = ?) AND revoked_at IS NULL AND expires_at > ?
              RETURNING id, user_id`,
          )
          .all(at, target.sessionId, target.userId ?? null, target.userId ?? null, at) as Row[];
      } else {
        ended = this.#db
          .prepare(
            `UPDATE sessions SET revoked_at = ?
              WHERE user_id = ? AND (? IS NULL OR id <> ?) AND revoked_at IS NULL AND expires_at > ?
              RETURNING id, user_id`,
          )
          .all(at, target.userId, target.exceptSessionId ?? null, target.exceptSessionId ?? null, at) as Row[];
      }
      for (const row of ended) {
        this.#record.run('session', row.id as string, row.user_id as string, at, expiresAt);
        out.push({ kind: 'session', id: row.id as string, userId: row.user_id as string, revokedAt: at, expiresAt });
      }
      return out;
    });
  }

  async liveRevocations(now: number): Promise<Revocation[]> {
    const rows = this.#db.prepare('SELECT * FROM revocations WHERE expires_at > ? ORDER BY expires_at, seq').all(now);
    return (rows as Row[]).map(toRevocation);
  }

  async revocationsSince(cursor: string | null, now: number): Promise<{ revocations: Revocation[]; cursor: string }> {
    if (cursor === null) {
      const row = this.#db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM revocations').get() as Row;
      return { revocations: [], cursor: String(row.seq) };
    }
    const rows = this.#db
      .prepare('SELECT * FROM revocations WHERE seq > ? ORDER BY seq LIMIT 10000')
      .all(Number(cursor)) as Row[];
    const last = rows.at(-1);
    return {
      revocations: rows.filter((r) => (r.expires_at as number) > now).map(toRevocation),
      cursor: last ? String(last.seq) : cursor,
    };
  }

  async purge(now: number, revokedBefore: number): Promise<{ sessions: number; revocations: number }> {
    return transaction(this.#db, () => ({
      sessions: Number(
        this.#db
          .prepare('DELETE FROM sessions WHERE expires_at <= ? OR (revoked_at IS NOT NULL AND revoked_at < ?)')
          .run(now, revokedBefore).changes,
      ),
      revocations: Number(this.#db.prepare('DELETE FROM revocations WHERE expires_at <= ?').run(now).changes),
    }));
  }
}
