import type { Revocation } from '../../core/revocation.ts';
import type { RevokeTarget, Rotation, RotatedSession, SessionRecord, SessionStore } from '../../core/session-store.ts';
import { purgeInBatches, type PostgresDatabase } from './postgres-database.ts';
import { toUser, type UserRow } from './postgres-user-store.ts';

interface SessionRow {
  id: string;
  user_id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  access_expires_at: number;
  revoked_at: number | null;
  user_agent: string | null;
  ip: string | null;
  generation: number;
  refresh_hash: string;
  previous_hash: string | null;
  rotated_at: number | null;
  grace_box: string | null;
  access_hash: string | null;
  amr: string;
  auth_time: number;
  dpop_jkt: string | null;
}

function toSession(r: SessionRow): SessionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    accessExpiresAt: r.access_expires_at,
    revokedAt: r.revoked_at,
    userAgent: r.user_agent,
    ip: r.ip,
    generation: r.generation,
    refreshHash: r.refresh_hash,
    previousHash: r.previous_hash,
    rotatedAt: r.rotated_at,
    graceBox: r.grace_box,
    accessHash: r.access_hash,
    amr: r.amr.split(' '),
    authTime: r.auth_time,
    ...(typeof r.dpop_jkt === 'string' && { dpopJkt: r.dpop_jkt }),
  };
}

/**
 * What a rotation writes, from parameters $3–$9 and $11 (`Rotation`'s fields; $6 is `rotatedAt`,
 * which is also the last use); `access_expires_at` only grows.
 */
const rotationSet = `generation = $3, refresh_hash = $4, previous_hash = $5, rotated_at = $6, grace_box = $7,
              expires_at = $8, last_used_at = $6, access_expires_at = GREATEST(access_expires_at, $9), access_hash = $11`;

/** A session "matters" at $1 while it can be refreshed or one of its access tokens can still be valid. */
const matters = 'revoked_at IS NULL AND (expires_at > $1 OR access_expires_at > $1)';

/**
 * Sessions in PostgreSQL, under READ COMMITTED (revocation also writes the revocation log, which
 * `PostgresRevocationLog` reads): every compare-and-swap is one
 * UPDATE whose WHERE clause Postgres re-checks against the latest row version after waiting for
 * a concurrent writer, so no read-then-write is ever needed.
 */
export class PostgresSessionStore implements SessionStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async create(s: SessionRecord, credentialStamp: number): Promise<boolean> {
    // FOR SHARE: a credential change (which moves the stamp on the user row) or a disable in
    // flight makes this wait, then re-check the user row as committed (and insert nothing); one
    // that comes later waits for this insert to commit, and then finds the session to end.
    const { rowCount } = await this.#db.query(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, access_expires_at, revoked_at,
                             user_agent, ip, generation, refresh_hash, previous_hash, rotated_at, grace_box, access_hash, amr, auth_time, dpop_jkt)
       SELECT $1::text, users.id, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint,
              $8::text, $9::text, $10::integer, $11::text, $12::text, $13::bigint, $14::text, $16::text, $17::text, $18::bigint, $19::text
         FROM users WHERE users.id = $2 AND credential_stamp = $15 AND disabled_at IS NULL
          FOR SHARE`,
      [s.id, s.userId, s.createdAt, s.lastUsedAt, s.expiresAt, s.accessExpiresAt, s.revokedAt,
        s.userAgent, s.ip, s.generation, s.refreshHash, s.previousHash, s.rotatedAt, s.graceBox, credentialStamp, s.accessHash, s.amr.join(' '), s.authTime, s.dpopJkt ?? null],
    );
    return rowCount === 1;
  }

  async get(id: string): Promise<SessionRecord | null> {
    const { rows } = await this.#db.query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id]);
    return rows[0] ? toSession(rows[0]) : null;
  }

  async usedBetween(from: number, to: number, now: number): Promise<Array<{ id: string; userId: string }>> {
    const { rows } = await this.#db.query<{ id: string; user_id: string }>(
      `SELECT id, user_id FROM sessions WHERE created_at <= $2 AND last_used_at >= $3 AND ${matters}`,
      [now, to, from],
    );
    return rows.map((r) => ({ id: r.id, userId: r.user_id }));
  }

  async listLive(userId: string, now: number): Promise<SessionRecord[]> {
    const { rows } = await this.#db.query<SessionRow>(
      `SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
        ORDER BY created_at DESC, id DESC`,
      [userId, now],
    );
    return rows.map(toSession);
  }

  async listAllLive(now: number, page: { readonly limit: number; readonly before?: string }): Promise<SessionRecord[]> {
    const { rows } = await this.#db.query<SessionRow>(
      `SELECT * FROM sessions WHERE revoked_at IS NULL AND expires_at > $1 AND ($2::text IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3`,
      [now, page.before ?? null, page.limit],
    );
    return rows.map(toSession);
  }

  async rotate(id: string, fromGeneration: number, refreshHash: string, n: Rotation, now: number): Promise<RotatedSession | null> {
    // One round trip for a whole refresh. A racer blocked on the session row lock re-checks
    // `generation` against the winner's version and matches nothing. The user row is read, not
    // locked: a disable racing this refresh then revokes the session, waiting for this row lock,
    // and so sees (and outlives) the access token issued here.
    const { rows } = await this.#db.query<UserRow & { session_amr: string; session_auth_time: number; session_dpop_jkt: string | null }>(
      `UPDATE sessions
          SET ${rotationSet}
         FROM users
        WHERE sessions.id = $1 AND sessions.generation = $2 AND sessions.refresh_hash = $12
          AND sessions.revoked_at IS NULL AND sessions.expires_at > $10
          AND (sessions.dpop_jkt IS NULL OR sessions.dpop_jkt = $13::text)
          AND users.id = sessions.user_id AND users.disabled_at IS NULL
        RETURNING users.*, sessions.amr AS session_amr, sessions.auth_time AS session_auth_time, sessions.dpop_jkt AS session_dpop_jkt`,
      [id, fromGeneration, n.generation, n.refreshHash, n.previousHash, n.rotatedAt, n.graceBox, n.expiresAt, n.accessExpiresAt, now, n.accessHash, refreshHash, n.dpopJkt ?? null],
    );
    const user = toUser(rows[0]);
    return user === null ? null : { user, amr: rows[0]!.session_amr.split(' '), authTime: rows[0]!.session_auth_time, ...(typeof rows[0]!.session_dpop_jkt === 'string' && { dpopJkt: rows[0]!.session_dpop_jkt }) };
  }

  async extendAccess(id: string, accessExpiresAt: number): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      'UPDATE sessions SET access_expires_at = GREATEST(access_expires_at, $2) WHERE id = $1 AND revoked_at IS NULL',
      [id, accessExpiresAt],
    );
    return rowCount === 1;
  }

  async setAuthTime(sessionId: string, at: number, amr?: readonly string[]): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE sessions SET auth_time = $2, amr = COALESCE($3::text, amr)
        WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2`,
      [sessionId, at, amr === undefined ? null : amr.join(' ')],
    );
    return rowCount === 1;
  }

  async revoke(target: RevokeTarget, at: number, headroomMs: number): Promise<Revocation[]> {
    return this.#db.transaction(async (query) => {
      const returning = 'RETURNING id, user_id, access_expires_at';
      const { rows } =
        'sessionId' in target
          ? await query<SessionRow>(
              `UPDATE sessions SET revoked_at = $1, access_hash = NULL
                WHERE id = $2 AND ($3::text IS NULL OR user_id = $3) AND ${matters} ${returning}`,
              [at, target.sessionId, target.userId ?? null],
            )
          : await query<SessionRow>(
              `UPDATE sessions SET revoked_at = $1, access_hash = NULL
                WHERE user_id = $2 AND ($3::text IS NULL OR id <> $3) AND ${matters} ${returning}`,
              [at, target.userId, target.exceptSessionId ?? null],
            );
      if (rows.length === 0) return [];
      const ended = rows.map(
        (r): Revocation => ({ kind: 'session', id: r.id, userId: r.user_id, revokedAt: at, expiresAt: r.access_expires_at + headroomMs }),
      );
      // Last statement before COMMIT: the seqs it draws become visible moments later (see the feed).
      await query(
        `INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at)
         SELECT 'session', e.subject, e.user_id, $1, e.expires_at
           FROM unnest($2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS e (subject, user_id, expires_at, n)
          ORDER BY e.n`,
        [at, ended.map((r) => r.id), ended.map((r) => r.userId), ended.map((r) => r.expiresAt)],
      );
      return ended;
    });
  }

  async purge(now: number, options: { headroomMs: number; graceMs: number }): Promise<number> {
    // SKIP LOCKED leaves rows a request (or another instance's purge) holds to a later run
    // instead of queueing behind it.
    const sessions = await purgeInBatches(
      this.#db,
      `DELETE FROM sessions WHERE id IN (
         SELECT id FROM sessions
          WHERE (revoked_at IS NOT NULL OR expires_at <= $2) AND access_expires_at <= $3
          LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      now,
      now - options.headroomMs,
    );
    // A grace box is only needed inside the grace window; past it, it only helps a thief.
    await purgeInBatches(
      this.#db,
      `UPDATE sessions SET grace_box = NULL WHERE id IN (
         SELECT id FROM sessions WHERE grace_box IS NOT NULL AND rotated_at < $2 LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      now - options.graceMs,
    );
    return sessions;
  }
}
