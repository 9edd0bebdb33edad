import type { Revocation } from '../../core/revocation.ts';
import type { RevocationLog } from '../../core/revocation-log.ts';
import type { RevokeTarget } from '../../core/session-store.ts';
import { revocationsSince } from './postgres-revocation-feed.ts';
import { purgeInBatches, type PostgresDatabase } from './postgres-database.ts';

/**
 * The revocation log in PostgreSQL: the `revocations` table, written by
 * `PostgresSessionStore.revoke` in its transaction. Polling reads it by `seq`, holding back seqs
 * that may still commit (see `revocationsSince`), so no committed entry is skipped.
 */
export class PostgresRevocationLog implements RevocationLog {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async liveRevocations(now: number): Promise<Revocation[]> {
    const { rows } = await this.#db.query<{ subject: string; user_id: string; revoked_at: number; expires_at: number }>(
      'SELECT subject, user_id, revoked_at, expires_at FROM revocations WHERE expires_at > $1 ORDER BY expires_at, seq',
      [now],
    );
    return rows.map((r) => ({ kind: 'session', id: r.subject, userId: r.user_id, revokedAt: r.revoked_at, expiresAt: r.expires_at }));
  }

  async revocationsSince(cursor: string | null, now: number): Promise<{ revocations: Revocation[]; cursor: string; more: boolean }> {
    return revocationsSince(this.#db.query, cursor, now);
  }

  async lastRevokedAt(target: RevokeTarget, since: number): Promise<number | null> {
    const { rows } =
      'sessionId' in target
        ? await this.#db.query<{ at: string | number | null }>(
            'SELECT MAX(revoked_at) AS at FROM sessions WHERE id = $1 AND ($2::text IS NULL OR user_id = $2) AND revoked_at >= $3',
            [target.sessionId, target.userId ?? null, since],
          )
        : await this.#db.query<{ at: string | number | null }>(
            'SELECT MAX(revoked_at) AS at FROM sessions WHERE user_id = $1 AND ($2::text IS NULL OR id <> $2) AND revoked_at >= $3',
            [target.userId, target.exceptSessionId ?? null, since],
          );
    const at = rows[0]?.at;
    return at === null || at === undefined ? null : Number(at);
  }

  async purge(now: number): Promise<number> {
    return purgeInBatches(
      this.#db,
      'DELETE FROM revocations WHERE seq IN (SELECT seq FROM revocations WHERE expires_at <= $2 LIMIT $1 FOR UPDATE SKIP LOCKED)',
      now,
    );
  }
}
