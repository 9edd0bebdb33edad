/**
 * Makes the upgrade fixtures: a database written by the release before credentials and stamps
 * (schema up to migration 0004, commit c92b3a1), dumped table by table as JSON, with the tokens
 * its users hold. `release-upgrade.test.ts` rebuilds the database from the dump and opens it with
 * the current code. Kept for the record: it imports the stores of that release and was run there,
 *
 *   git worktree add /tmp/release c92b3a1 && cd /tmp/release && npm ci && \
 *   node test/upgrade/make-release-fixture.ts
 *
 * It does not run against later trees (their stores write the newer schema).
 */
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ManualClock } from '../../src/core/clock.ts';
import { createArgon2Hasher } from '../../src/core/password.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import type { Stores } from '../../src/core/stores.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { openPostgresStores } from '../../src/stores/postgres/postgres-stores.ts';
import { DatabaseSync } from 'node:sqlite';

/** The instant the fixture was made at; the test's clock starts a minute later. */
export const fixtureTime = Date.UTC(2026, 10, 30, 6, 0, 0);
const issuer = 'http://release.test';
const hasher = createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
const tables = ['schema_migrations', 'users', 'sessions', 'revocations', 'signing_keys', 'secrets', 'audit_events', 'clients'];

async function populate(stores: Stores) {
  const clock = new ManualClock(fixtureTime);
  const core = await createTokenstile({ stores, issuer, clock, passwordHasher: hasher, rateLimits: false });
  const password = 'release password 1';
  await core.register({ email: 'alice@example.com', password, name: 'Alice' });
  const laptop = await core.login({ email: 'alice@example.com', password }, { userAgent: 'laptop', ip: '192.0.2.1' });
  clock.advance(1000);
  const phone = await core.login({ email: 'alice@example.com', password }, { userAgent: 'phone', ip: '192.0.2.2' });
  await core.register({ email: 'bob@example.com', password: 'bob password 22' });
  const bob = (await core.findUser('bob@example.com'))!;
  await core.disableUser(bob.id);
  await core.close();
  if (!laptop.ok || !phone.ok) throw new Error('login failed');
  const pick = (t: typeof laptop.value) => ({ accessToken: t.accessToken, refreshToken: t.refreshToken, sessionId: t.session.id });
  return { issuer, fixtureTime, password, userId: laptop.value.user.id, laptop: pick(laptop.value), phone: pick(phone.value) };
}

async function sqlite() {
  const path = `/tmp/release-fixture-${randomBytes(4).toString('hex')}.db`;
  const stores = openSqliteStores(path);
  const tokens = await populate(stores);
  await stores.close();
  const db = new DatabaseSync(path);
  const dump = Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t}`).all()]));
  db.close();
  writeFileSync(new URL('./fixtures/release-0004-sqlite.json', import.meta.url), JSON.stringify({ ...tokens, tables: dump }, null, 1) + '\n');
}

async function postgres() {
  const url = process.env.TOKENSTILE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `release_fixture_${randomBytes(4).toString('hex')}`;
  const stores = await openPostgresStores(url, { schema });
  const tokens = await populate(stores);
  await stores.close();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const dump: Record<string, unknown[]> = {};
  for (const t of tables) dump[t] = (await pool.query(`SELECT * FROM ${schema}.${t}`)).rows;
  await pool.query(`DROP SCHEMA ${schema} CASCADE`);
  await pool.end();
  writeFileSync(new URL('./fixtures/release-0004-postgres.json', import.meta.url), JSON.stringify({ ...tokens, tables: dump }, null, 1) + '\n');
}

await sqlite();
await postgres();
