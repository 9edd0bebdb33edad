import type { FeatureDatabase } from '../../core/feature.ts';

/** An external identity linked to a user. Times in ms. */
export interface IdentityRecord {
  readonly id: string;
  readonly provider: string;
  readonly subject: string;
  readonly userId: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  readonly createdAt: number;
}

/** A session started by a provider sign-in, with what the provider said of its own session. */
export interface SessionOrigin {
  readonly sessionId: string;
  readonly provider: string;
  readonly subject: string;
  /** The provider's session id (ID token `sid`), when it sent one. */
  readonly sid: string | null;
  /** When the row may go: the session cannot outlive it (its absolute lifetime). */
  readonly expiresAt: number;
}

/**
 * Storage of the social feature, in domain words. Every method is one statement, so each is
 * atomic on its own; uniqueness (one user per provider account, one use per logout token) is
 * enforced by the database's keys, not by a read before the write.
 */
export interface SocialStore {
  identity(provider: string, subject: string): Promise<IdentityRecord | null>;
  /** The user's identities, oldest first. */
  identitiesOf(userId: string): Promise<IdentityRecord[]>;
  /** False, writing nothing, when (provider, subject) is linked already (to anyone). */
  addIdentity(identity: IdentityRecord): Promise<boolean>;
  /**
   * Deletes the user's identity `id`: `removed`, or `not_found` when the user has no such identity,
   * or, with `keepOne`, `last` (deleting nothing) when it is the user's only one. One transaction
   * that locks the user's identities first, so two racing removals cannot take the last two.
   */
  removeIdentity(userId: string, id: string, keepOne: boolean): Promise<'removed' | 'not_found' | 'last'>;
  recordSession(origin: SessionOrigin): Promise<void>;
  /**
   * The sessions a logout token names: with `sid`, those of that provider session (and of
   * `subject` too when given); with only `subject`, every session that user started there.
   */
  sessionsFor(provider: string, match: { readonly sid: string | null; readonly subject: string | null }): Promise<string[]>;
  /** Records a logout token's `jti` hash; false when it was seen before (a replay), on any instance. */
  spendLogoutToken(provider: string, jtiHash: string, expiresAt: number): Promise<boolean>;
  /** Deletes session origins and logout-token records past their expiry; returns how many went. */
  purge(now: number): Promise<number>;
}

interface IdentityRow {
  id: string;
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  email_verified: boolean | number;
  created_at: number | string;
}

function identityOf(row: IdentityRow): IdentityRecord {
  return {
    id: row.id,
    provider: row.provider,
    subject: row.subject,
    userId: row.user_id,
    email: row.email,
    emailVerified: row.email_verified === true || row.email_verified === 1,
    createdAt: Number(row.created_at),
  };
}

/** The same SQL for SQLite and PostgreSQL: `?` placeholders turned into `$n` for the latter. */
function dialectSql(db: FeatureDatabase, text: string): string {
  let n = 0;
  return db.dialect === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text;
}

/** `SocialStore` on the feature database handle. */
export function sqlSocialStore(db: FeatureDatabase): SocialStore {
  const sql = (text: string) => dialectSql(db, text);
  const columns = 'id, provider, subject, user_id, email, email_verified, created_at';
  return {
    async identity(provider, subject) {
      const rows = await db.query<IdentityRow>(sql(`SELECT ${columns} FROM social_identities WHERE provider = ? AND subject = ?`), [provider, subject]);
      return rows[0] ? identityOf(rows[0]) : null;
    },
    async identitiesOf(userId) {
      const rows = await db.query<IdentityRow>(sql(`SELECT ${columns} FROM social_identities WHERE user_id = ? ORDER BY created_at, id`), [userId]);
      return rows.map(identityOf);
    },
    async addIdentity(i) {
      const changed = await db.execute(
        sql(`INSERT INTO social_identities (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
        [i.id, i.provider, i.subject, i.userId, i.email, i.emailVerified, i.createdAt],
      );
      return changed === 1;
    },
    removeIdentity(userId, id, keepOne) {
      return db.transaction(async (tx) => {
        // PostgreSQL: the user's rows are locked, so a racing removal waits and then sees this one gone.
        const lock = tx.dialect === 'postgres' ? ' FOR UPDATE' : '';
        const rows = await tx.query<{ id: string }>(dialectSql(tx, `SELECT id FROM social_identities WHERE user_id = ?${lock}`), [userId]);
        if (!rows.some((r) => r.id === id)) return 'not_found';
        if (keepOne && rows.length === 1) return 'last';
        await tx.execute(dialectSql(tx, 'DELETE FROM social_identities WHERE id = ? AND user_id = ?'), [id, userId]);
        return 'removed';
      });
    },
    async recordSession(o) {
      await db.execute(sql('INSERT INTO social_sessions (session_id, provider, subject, sid, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'), [o.sessionId, o.provider, o.subject, o.sid, o.expiresAt]);
    },
    async sessionsFor(provider, match) {
      const rows =
        match.sid !== null
          ? await db.query<{ session_id: string }>(
              sql(`SELECT session_id FROM social_sessions WHERE provider = ? AND sid = ?${match.subject !== null ? ' AND subject = ?' : ''}`),
              match.subject !== null ? [provider, match.sid, match.subject] : [provider, match.sid],
            )
          : await db.query<{ session_id: string }>(sql('SELECT session_id FROM social_sessions WHERE provider = ? AND subject = ?'), [provider, match.subject]);
      return rows.map((r) => r.session_id);
    },
    async spendLogoutToken(provider, jtiHash, expiresAt) {
      return (await db.execute(sql('INSERT INTO social_logout_tokens (provider, jti_hash, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'), [provider, jtiHash, expiresAt])) === 1;
    },
    async purge(now) {
      const sessions = await db.execute(sql('DELETE FROM social_sessions WHERE expires_at < ?'), [now]);
      const tokens = await db.execute(sql('DELETE FROM social_logout_tokens WHERE expires_at < ?'), [now]);
      return sessions + tokens;
    },
  };
}
