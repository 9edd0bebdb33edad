import type { DatabaseSync } from 'node:sqlite';
import type { Revocation } from '../../core/revocation.ts';
import type { RevokeTarget, Rotation, RotatedSession, SessionRecord, SessionStore } from '../../core/session-store.ts';
import { purgeInBatches, transaction } from './sqlite-database.ts';
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
    authTime: r.auth_time as number,
    ...(typeof r.dpop_jkt === 'string' && { dpopJkt: r.dpop_jkt }),
  };
}

/** What a rotation writes (`Rotation`'s fields); `accessExpiresAt` only grows. */
const rotationSet = `generation = $generation, refresh_hash = $refreshHash, previous_hash = $previousHash,
              rotated_at = $rotatedAt, grace_box = $graceBox, expires_at = $expiresAt,
              last_used_at = $rotatedAt, access_expires_at = MAX(access_expires_at, $accessExpiresAt),
              access_hash = $accessHash`;

/** A session "matters" while it can be refreshed or one of its access tokens can still be valid. */
const matters = 'revoked_at IS NULL AND (expires_at > $at OR access_expires_at > $at)';

/**
 * Sessions in SQLite; rotation is one statement, and revocation one transaction that also writes
 * the revocation log (`SqliteRevocationLog` reads it).
 */
export class SqliteSessionStore implements SessionStore {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #get;
  readonly #listLive;
  readonly #rotate;
  readonly #extend;
  readonly #revokeOne;
  readonly #revokeUser;
  readonly #record;
  readonly #setAuthTime;

  constructor(db: DatabaseSync) {
    this.#db = db;
    // The user check and the insert are one statement: a credential change or disable committed
    // first makes the insert a no-op; one committed after sees the session and ends it.
    this.#insert = db.prepare(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, access_expires_at, revoked_at,
                             user_agent, ip, generation, refresh_hash, previous_hash, rotated_at, grace_box, access_hash, amr, auth_time, dpop_jkt)
       SELECT $id, $userId, $createdAt, $lastUsedAt, $expiresAt, $accessExpiresAt, $revokedAt,
              $userAgent, $ip, $generation, $refreshHash, $previousHash, $rotatedAt, $graceBox, $accessHash, $amr, $authTime, $dpopJkt
         FROM users WHERE id = $userId AND credential_stamp = $stamp AND disabled_at IS NULL`,
    );
    this.#get = db.prepare('SELECT * FROM sessions WHERE id = ?');
    this.#listLive = db.prepare(
      `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       ORDER BY created_at DESC`,
    );
    // One statement: the WHERE clause is the compare (generation, refresh hash, live session, enabled
    // user) and the SET the swap. It returns the user (RETURNING may only name the updated table,
    // hence the scalar subqueries by primary key).
    const userColumn = (c: string) => `(SELECT ${c} FROM users WHERE users.id = sessions.user_id) AS ${c}`;
    this.#rotate = db.prepare(
      `UPDATE sessions
          SET ${rotationSet}
        WHERE id = $id AND generation = $from AND refresh_hash = $currentHash AND revoked_at IS NULL AND expires_at > $now
          AND (dpop_jkt IS NULL OR dpop_jkt = $dpopJkt)
          AND EXISTS (SELECT 1 FROM users WHERE users.id = sessions.user_id AND users.disabled_at IS NULL)
        RETURNING user_id AS id, amr AS session_amr, auth_time AS session_auth_time, dpop_jkt AS session_dpop_jkt, ${userColumns.map(userColumn).join(', ')}`,
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
    this.#setAuthTime = db.prepare(
      `UPDATE sessions SET auth_time = $at, amr = COALESCE($amr, amr)
        WHERE id = $id AND revoked_at IS NULL AND expires_at > $at`,
    );
    this.#record = db.prepare(
      "INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at) VALUES ('session', ?, ?, ?, ?)",
    );
  }

  async create(s: SessionRecord, credentialStamp: number): Promise<boolean> {
    const r = this.#insert.run({ ...s, amr: s.amr.join(' '), dpopJkt: s.dpopJkt ?? null, stamp: credentialStamp });
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

  async rotate(id: string, fromGeneration: number, refreshHash: string, n: Rotation, now: number): Promise<RotatedSession | null> {
    const row = this.#rotate.get({ ...n, dpopJkt: n.dpopJkt ?? null, id, from: fromGeneration, currentHash: refreshHash, now }) as Row | undefined;
    const user = toUser(row);
    return user === null ? null : { user, amr: (row!.session_amr as string).split(' '), authTime: row!.session_auth_time as number, ...(typeof row!.session_dpop_jkt === 'string' && { dpopJkt: row!.session_dpop_jkt }) };
  }

  async extendAccess(id: string, accessExpiresAt: number): Promise<boolean> {
    return this.#extend.run(accessExpiresAt, id).changes === 1;
  }

  async setAuthTime(sessionId: string, at: number, amr?: readonly string[]): Promise<boolean> {
    return this.#setAuthTime.run({ id: sessionId, at, amr: amr === undefined ? null : amr.join(' ') }).changes === 1;
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

  async purge(now: number, options: { headroomMs: number; graceMs: number }): Promise<number> {
    const sessions = await purgeInBatches(
      this.#db,
      `DELETE FROM sessions WHERE id IN (
         SELECT id FROM sessions
          WHERE (revoked_at IS NOT NULL OR expires_at <= ?) AND access_expires_at + ? <= ? LIMIT ?)`,
      now, options.headroomMs, now,
    );
    // A grace box is only needed inside the grace window; past it, it only helps a thief.
    await purgeInBatches(
      this.#db,
      `UPDATE sessions SET grace_box = NULL WHERE id IN (
         SELECT id FROM sessions WHERE grace_box IS NOT NULL AND rotated_at < ? LIMIT ?)`,
      now - options.graceMs,
    );
    return sessions;
  }
}
