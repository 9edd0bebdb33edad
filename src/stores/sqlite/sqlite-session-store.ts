import type { DatabaseSync } from 'node:sqlite';
import type { Revocation } from '../../core/revocation.ts';
import type { RevokeTarget, Rotation, RotatedSession, SessionRecord, SessionStore } from '../../core/session-store.ts';
import { transaction } from './sqlite-database.ts';
import { toUser, userColumns } from './sqlite-user-store.ts';

type Row = Record<string, unknown>;

function toSession(r: Row): SessionRecord {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    createdAt: r.created_at as number,
    lastUsedAt: r.last_used_at as number,
    expiresAt: r.expires_at as number,
    accessExpiresAt: r.access_expires_at as number,
    revokedAt: (r.revoked_at as number | null) ?? null,
    userAgent: (r.user_agent as string | null) ?? null,
    ip: (r.ip as string | null) ?? null,
    generation: r.generation as number,
    refreshHash: r.refresh_hash as string,
    previousHash: (r.previous_hash as string | null) ?? null,
    rotatedAt: (r.rotated_at as number | null) ?? null,
    graceBox: (r.grace_box as string | null) ?? null,
    accessHash: (r.access_hash as string | null) ?? null,
    amr: (r.amr as string).split(' '),
  };
}

function toRevocation(r: Row): Revocation {
  return {
    kind: 'session',
    id: r.subject as string,
    userId: r.user_id as string,
    revokedAt: r.revoked_at as number,
    expiresAt: r.expires_at as number,
  };
}

/** Rows deleted per statement by purge, so that no single statement holds the write lock long. */
const purgeBatch = 500;

/** What a rotation writes (`Rotation`'s fields); `accessExpiresAt` only grows. */
const rotationSet = `generation = $generation, refresh_hash = $refreshHash, previous_hash = $previousHash,
              rotated_at = $rotatedAt, grace_box = $graceBox, expires_at = $expiresAt,
              last_used_at = $rotatedAt, access_expires_at = MAX(access_expires_at, $accessExpiresAt),
              access_hash = $accessHash`;

/** A session "matters" while it can be refreshed or one of its access tokens can still be valid. */
const matters = 'revoked_at IS NULL AND (expires_at > $at OR access_expires_at > $at)';

/** Sessions and their revocations in SQLite; rotation and revocation are single statements or one transaction. */
/** Most rows read per poll. */
const feedBatch = 10_000;

export class SqliteSessionStore implements SessionStore {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #get;
  readonly #listLive;
  readonly #rotate;
  readonly #rotateCurrent;
  readonly #extend;
  readonly #revokeOne;
  readonly #revokeUser;
  readonly #record;

  constructor(db: DatabaseSync) {
    this.#db = db;
    // The user check and the insert are one statement: a credential change or disable committed
    // first makes the insert a no-op; one committed after sees the session and ends it.
    this.#insert = db.prepare(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, access_expires_at, revoked_at,
                             user_agent, ip, generation, refresh_hash, previous_hash, rotated_at, grace_box, access_hash, amr)
       SELECT $id, $userId, $createdAt, $lastUsedAt, $expiresAt, $accessExpiresAt, $revokedAt,
              $userAgent, $ip, $generation, $refreshHash, $previousHash, $rotatedAt, $graceBox, $accessHash, $amr
         FROM users WHERE id = $userId AND credential_stamp = $stamp AND disabled_at IS NULL`,
    );
    this.#get = db.prepare('SELECT * FROM sessions WHERE id = ?');
    this.#listLive = db.prepare(
      `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       ORDER BY created_at DESC`,
    );
    // One statement: the WHERE clause is the compare and the SET the swap.
    this.#rotate = db.prepare(
      `UPDATE sessions
          SET ${rotationSet}
        WHERE id = $id AND generation = $from AND revoked_at IS NULL AND expires_at > $now`,
    );
    // The same swap, compared on the refresh hash too and gated on the user, returning the user
    // (RETURNING may only name the updated table, hence the scalar subqueries by primary key).
    const userColumn = (c: string) => `(SELECT ${c} FROM users WHERE users.id = sessions.user_id) AS ${c}`;
    this.#rotateCurrent = db.prepare(
      `UPDATE sessions
          SET ${rotationSet}
        WHERE id = $id AND generation = $from AND refresh_hash = $currentHash AND revoked_at IS NULL AND expires_at > $now
          AND EXISTS (SELECT 1 FROM users WHERE users.id = sessions.user_id AND users.disabled_at IS NULL)
        RETURNING user_id AS id, amr AS session_amr, ${userColumns.map(userColumn).join(', ')}`,
    );
    this.#extend = db.prepare(
      `UPDATE sessions SET access_expires_at = MAX(access_expires_at, ?) WHERE id = ? AND revoked_at IS NULL`,
    );
    this.#revokeOne = db.prepare(
      `UPDATE sessions SET revoked_at = $at, access_hash = NULL
        WHERE id = $id AND ($userId IS NULL OR user_id = $userId) AND ${matters}
        RETURNING id, user_id, access_expires_at`,
    );
    this.#revokeUser = db.prepare(
      `UPDATE sessions SET revoked_at = $at, access_hash = NULL
        WHERE user_id = $userId AND ($except IS NULL OR id <> $except) AND ${matters}
        RETURNING id, user_id, access_expires_at`,
    );
    this.#record = db.prepare(
      "INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at) VALUES ('session', ?, ?, ?, ?)",
    );
  }

  async create(s: SessionRecord, credentialStamp: number): Promise<boolean> {
    const r = this.#insert.run({ ...s, amr: s.amr.join(' '), stamp: credentialStamp });
    return r.changes === 1;
  }

  async get(id: string): Promise<SessionRecord | null> {
    const row = this.#get.get(id) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async listLive(userId: string, now: number): Promise<SessionRecord[]> {
    return (this.#listLive.all(userId, now) as Row[]).map(toSession);
  }

  async listAllLive(now: number, page: { readonly limit: number; readonly before?: string }): Promise<SessionRecord[]> {
    // Rare (an operator's command): prepared per call rather than with the hot statements.
    const rows = this.#db
      .prepare(
        `SELECT * FROM sessions WHERE revoked_at IS NULL AND expires_at > ? AND (? IS NULL OR id < ?)
         ORDER BY id DESC LIMIT ?`,
      )
      .all(now, page.before ?? null, page.before ?? null, page.limit) as Row[];
    return rows.map(toSession);
  }

  async usedBetween(from: number, to: number, now: number): Promise<Array<{ id: string; userId: string }>> {
    return this.#db
      .prepare(`SELECT id, user_id FROM sessions WHERE created_at <= $to AND last_used_at >= $from AND ${matters}`)
      .all({ from, to, at: now })
      .map((r) => ({ id: r.id as string, userId: r.user_id as string }));
  }

  async rotate(id: string, fromGeneration: number, n: Rotation, now: number): Promise<boolean> {
    return this.#rotate.run({ ...n, id, from: fromGeneration, now }).changes === 1;
  }

  async rotateCurrent(id: string, fromGeneration: number, refreshHash: string, n: Rotation, now: number): Promise<RotatedSession | null> {
    const row = this.#rotateCurrent.get({ ...n, id, from: fromGeneration, currentHash: refreshHash, now }) as Row | undefined;
    const user = toUser(row);
    return user === null ? null : { user, amr: (row!.session_amr as string).split(' ') };
  }

  async extendAccess(id: string, accessExpiresAt: number): Promise<boolean> {
    return this.#extend.run(accessExpiresAt, id).changes === 1;
  }

  async revoke(target: RevokeTarget, at: number, headroomMs: number): Promise<Revocation[]> {
    return transaction(this.#db, () => {
      const ended = (
        'sessionId' in target
          ? this.#revokeOne.all({ at, id: target.sessionId, userId: target.userId ?? null })
          : this.#revokeUser.all({ at, userId: target.userId, except: target.exceptSessionId ?? null })
      ) as Row[];
      return ended.map((row) => {
        const r: Revocation = {
          kind: 'session',
          id: row.id as string,
          userId: row.user_id as string,
          revokedAt: at,
          expiresAt: (row.access_expires_at as number) + headroomMs,
        };
        this.#record.run(r.id, r.userId, r.revokedAt, r.expiresAt);
        return r;
      });
    });
  }

  async lastRevokedAt(target: RevokeTarget, since: number): Promise<number | null> {
    const row = (
      'sessionId' in target
        ? this.#db.prepare('SELECT MAX(revoked_at) AS at FROM sessions WHERE id = ? AND (? IS NULL OR user_id = ?) AND revoked_at >= ?').get(target.sessionId, target.userId ?? null, target.userId ?? null, since)
        : this.#db.prepare('SELECT MAX(revoked_at) AS at FROM sessions WHERE user_id = ? AND (? IS NULL OR id <> ?) AND revoked_at >= ?').get(target.userId, target.exceptSessionId ?? null, target.exceptSessionId ?? null, since)
    ) as Row | undefined;
    return typeof row?.at === 'number' ? row.at : null;
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

  async purge(now: number, options: { headroomMs: number; graceMs: number }): Promise<{ sessions: number; revocations: number }> {
    // node:sqlite is synchronous: yield to the event loop between batches so requests keep flowing.
    const batch = async (sql: string, ...params: number[]): Promise<number> => {
      const statement = this.#db.prepare(sql);
      let total = 0;
      for (;;) {
        const n = Number(statement.run(...params, purgeBatch).changes);
        total += n;
        if (n < purgeBatch) return total;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const sessions = await batch(
      `DELETE FROM sessions WHERE id IN (
         SELECT id FROM sessions
          WHERE (revoked_at IS NOT NULL OR expires_at <= ?) AND access_expires_at + ? <= ? LIMIT ?)`,
      now, options.headroomMs, now,
    );
    const revocations = await batch('DELETE FROM revocations WHERE seq IN (SELECT seq FROM revocations WHERE expires_at <= ? LIMIT ?)', now);
    // A grace box is only needed inside the grace window; past it, it only helps a thief.
    await batch(
      `UPDATE sessions SET grace_box = NULL WHERE id IN (
         SELECT id FROM sessions WHERE grace_box IS NOT NULL AND rotated_at < ? LIMIT ?)`,
      now - options.graceMs,
    );
    return { sessions, revocations };
  }
}
