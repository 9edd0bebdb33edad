// A database written by the release before credentials and stamps (schema 0004), opened by this
// code: migrations 0005 and 0006 carry its users, sessions and tokens over. See make-release-fixture.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { createArgon2Hasher } from '../../src/core/password.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { bootstrapSql, postgresMigrations } from '../../src/stores/postgres/postgres-migrations.ts';
import { sqliteMigrations } from '../../src/stores/sqlite/sqlite-migrations.ts';
import { databaseBackends } from '../backend-fixtures.ts';

interface Fixture {
  issuer: string;
  fixtureTime: number;
  password: string;
  userId: string;
  laptop: { accessToken: string; refreshToken: string; sessionId: string };
  phone: { accessToken: string; refreshToken: string; sessionId: string };
  tables: Record<string, Array<Record<string, unknown>>>;
}

/** The migrations that release had shipped: the ledger in its dump names exactly these. */
const released = ['0001_initial', '0002_audit', '0003_clients', '0004_opaque_access'];
/** Parents before children (foreign keys). */
const tableOrder = ['users', 'sessions', 'revocations', 'signing_keys', 'secrets', 'audit_events', 'clients'];
const hasher = createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
const payload = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

for (const backend of await databaseBackends()) {
  const fixture = JSON.parse(readFileSync(new URL(`./fixtures/release-0004-${backend.name}.json`, import.meta.url), 'utf8')) as Fixture;

  describe(`${backend.name}: upgrading a database made by the release with schema 0004`, () => {
    test('its users sign in, its refresh tokens refresh, its access tokens are accepted, and a password change still ends the other sessions', async () => {
      assert.deepEqual(fixture.tables.schema_migrations!.map((m) => m.name), released, 'the dump is of that release');
      const stores = await backend.open({
        migrate: true,
        // Rebuild the release's database: its migrations, as shipped (never edited), then its rows.
        async prepare(run) {
          if (backend.name === 'sqlite') {
            await run('CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT');
            for (const m of sqliteMigrations.filter((x) => released.includes(x.name))) await run(m.sql);
            for (const table of ['schema_migrations', ...tableOrder]) {
              for (const row of fixture.tables[table]!) {
                const columns = Object.keys(row);
                await run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, Object.values(row));
              }
            }
          } else {
            await run(bootstrapSql(null));
            for (const m of postgresMigrations.filter((x) => released.includes(x.name))) await run(m.sql);
            for (const table of ['schema_migrations', ...tableOrder]) {
              await run(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1)`, [JSON.stringify(fixture.tables[table])]);
            }
            for (const table of ['revocations', 'audit_events']) {
              await run(`SELECT setval(pg_get_serial_sequence('${table}', 'seq'), GREATEST((SELECT MAX(seq) FROM ${table}), 1))`);
            }
          }
        },
      });
      const clock = new ManualClock(fixture.fixtureTime + 60_000);
      const core = await createTokenstile({ stores, issuer: fixture.issuer, clock, passwordHasher: hasher, rateLimits: false });
      try {
        assert.deepEqual(await stores.migrate(), [], 'opening applied every migration');
        const [password] = await stores.credentials.list(fixture.userId, 'password');
        assert.equal(password?.secret, fixture.tables.users!.find((u) => u.id === fixture.userId)!.password_hash, 'the hash moved to the credential form');
        const sessions = await core.listUserSessions(fixture.userId);
        assert.deepEqual(sessions.map((s) => s.id).sort(), [fixture.laptop.sessionId, fixture.phone.sessionId].sort());
        assert.ok(sessions.every((s) => s.amr.length === 1 && s.amr[0] === 'pwd'), 'existing sessions began with a password');
        // Migration 0006: existing sessions were authenticated when they began; no email is verified yet.
        assert.ok(sessions.every((s) => s.authTime === s.createdAt), 'authTime of an existing session is its sign-in');
        assert.equal((await stores.users.byId(fixture.userId))?.emailVerifiedAt, null);

        // Access tokens issued by the release are accepted (their signing key and claims unchanged).
        const laptop = await core.authenticate(fixture.laptop.accessToken);
        assert.ok(laptop.ok, 'the laptop\'s access token');
        const phone = await core.authenticate(fixture.phone.accessToken);
        assert.ok(phone.ok, 'the phone\'s access token');

        // Refresh tokens issued by the release refresh; the successor says how the session began.
        const refreshed = await core.refresh(fixture.laptop.refreshToken, { userAgent: 'laptop' });
        assert.ok(refreshed.ok, `refresh: ${refreshed.ok ? '' : refreshed.code}`);
        assert.deepEqual(payload(refreshed.value.accessToken).amr, ['pwd']);
        const laptopSession = sessions.find((s) => s.id === fixture.laptop.sessionId)!;
        assert.equal(payload(refreshed.value.accessToken).auth_time, Math.floor(laptopSession.createdAt / 1000), 'refresh keeps the sign-in time');
        assert.equal(payload(refreshed.value.accessToken).email_verified, false);
        assert.equal(refreshed.value.user.emailVerified, false);
        const introspected = await core.introspect(refreshed.value.refreshToken);
        assert.ok(introspected !== 'unavailable' && introspected.active);

        // The user signs in with the password the release stored; the disabled one does not.
        const login = await core.login({ email: 'alice@example.com', password: fixture.password }, { userAgent: 'tablet' });
        assert.ok(login.ok, 'sign-in with the password set under the release');
        assert.deepEqual(await core.login({ email: 'bob@example.com', password: 'bob password 22' }), { ok: false, code: 'invalid_credentials' });

        // A password change from the phone ends every other session, old and new, at once.
        const changed = await core.changePassword(phone.value, { currentPassword: fixture.password, newPassword: 'after upgrade 9' });
        assert.ok(changed.ok);
        assert.deepEqual(await core.authenticate(refreshed.value.accessToken), { ok: false, code: 'session_revoked' });
        assert.deepEqual(await core.authenticate(login.value.accessToken), { ok: false, code: 'session_revoked' });
        assert.equal((await core.refresh(refreshed.value.refreshToken, { userAgent: 'laptop' })).ok, false);
        assert.ok((await core.authenticate(fixture.phone.accessToken)).ok, 'the session that changed it lives on');
        assert.deepEqual(await core.login({ email: 'alice@example.com', password: fixture.password }), { ok: false, code: 'invalid_credentials' });
        assert.ok((await core.login({ email: 'alice@example.com', password: 'after upgrade 9' })).ok);
      } finally {
        await core.close();
        await stores.close();
      }
    });
  });
}
