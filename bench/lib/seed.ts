// Bulk rows for the growth scenarios, written with one INSERT … SELECT each (a recursive CTE in
// SQLite, generate_series in PostgreSQL), not through the API: a million sessions take seconds.
// Seeded sessions belong to `userId`, are live, and are never refreshed by the bench; seeded
// revocations name seeded sessions and stay live for an hour.
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';

/** How many rows to add. */
export interface SeedCounts {
  readonly sessions: number;
  /** Live revocations (of the first `revocations` seeded sessions, which are marked revoked). */
  readonly revocations: number;
}

// (The recursive CTE yields its first row even for a count of 0, hence the WHERE.)
// Ids shaped like UUIDv7 (the version and variant nibbles), unique per row and per run.
const sqliteId = (tag: string) => `printf('%08x-%04x-7000-8000-%012x', ${tag}, 0, i)`;

/** Adds sessions and revocations to the SQLite database at `path` (already migrated). */
export function seedSqlite(path: string, userId: string, counts: SeedCounts, now = Date.now()): void {
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;');
    const tag = Math.floor(now / 1000) % 0xffffffff;
    db.exec('BEGIN');
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count)
       INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, access_expires_at, revoked_at,
                             user_agent, ip, generation, refresh_hash, previous_hash, rotated_at, grace_box, auth_time)
       SELECT ${sqliteId(String(tag))}, $user, $now - i, $now, $now + 604800000, $now + 900000,
              CASE WHEN i <= $revoked THEN $now ELSE NULL END, NULL, NULL, 0, hex(randomblob(16)), NULL, NULL, NULL, $now - i
         FROM n WHERE i <= $count`,
    ).run({ count: counts.sessions, user: userId, now, revoked: counts.revocations });
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count)
       INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at)
       SELECT 'session', ${sqliteId(String(tag))}, $user, $now, $now + 3600000 FROM n WHERE i <= $count`,
    ).run({ count: counts.revocations, user: userId, now });
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

/** Adds sessions and revocations in `schema` of the PostgreSQL database at `url` (already migrated). */
export async function seedPostgres(url: string, schema: string, userId: string, counts: SeedCounts, now = Date.now()): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path = "${schema}"`);
    const tag = (Math.floor(now / 1000) % 0xffffffff).toString(16).padStart(8, '0');
    const id = `'${tag}-0000-7000-8000-' || lpad(to_hex(i), 12, '0')`;
    await client.query(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, access_expires_at, revoked_at,
                             user_agent, ip, generation, refresh_hash, previous_hash, rotated_at, grace_box, auth_time)
       SELECT ${id}, $1, $2::bigint - i, $2, $2::bigint + 604800000, $2::bigint + 900000,
              CASE WHEN i <= $4 THEN $2::bigint END, NULL, NULL, 0, md5(i::text || $2::text), NULL, NULL, NULL, $2::bigint - i
         FROM generate_series(1, $3::int) AS i`,
      [userId, now, counts.sessions, counts.revocations],
    );
    await client.query(
      `INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at)
       SELECT 'session', ${id}, $1, $2, $2::bigint + 3600000 FROM generate_series(1, $3::int) AS i`,
      [userId, now, counts.revocations],
    );
    await client.query('ANALYZE sessions; ANALYZE revocations');
  } finally {
    await client.end();
  }
}
