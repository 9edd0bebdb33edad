// The core half of features: createTokenstile applies their migrations and calls their setup;
// sign-in gates in login (not in startSession); one-time tokens; auth_time and email_verified in
// JWTs and in opaque-mode introspection. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { internals } from '../../src/core/core-internals.ts';
import type { AuthEvent } from '../../src/core/events.ts';
import { featureApi, type CoreFeature, type FeatureKit, type Migration } from '../../src/core/feature.ts';
import type { Stores } from '../../src/core/stores.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { databaseBackends } from '../backend-fixtures.ts';
import { fastHasher, goodPassword, issuer, uniqueEmail } from '../helpers.ts';

const payload = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

function table(name: string): { sqlite: Migration[]; postgres: Migration[] } {
  const sql = `CREATE TABLE ${name} (id TEXT PRIMARY KEY)`;
  return { sqlite: [{ name: '0001_table', sql }], postgres: [{ name: '0001_table', sql }] };
}

for (const backend of await databaseBackends()) {
  describe(`${backend.name}: features in the core`, () => {
    async function withCore(options: { features?: CoreFeature[]; opaque?: boolean; stores?: Stores }, fn: (core: Awaited<ReturnType<typeof createTokenstile>>, clock: ManualClock, events: AuthEvent[]) => Promise<void>) {
      const stores = options.stores ?? (await backend.open());
      const clock = new ManualClock(Date.now());
      const events: AuthEvent[] = [];
      const core = await createTokenstile({
        stores, issuer, clock, passwordHasher: fastHasher, rateLimits: false, features: options.features ?? [],
        onEvent: (e) => events.push(e), ...(options.opaque && { accessTokenFormat: 'opaque' as const }),
      });
      try {
        await fn(core, clock, events);
      } finally {
        await core.close();
        if (!options.stores) await stores.close();
      }
    }

    test('migrations are applied before setup, once, in order, by every core opened on the database', async () => {
      const stores = await backend.open();
      try {
        const seen: string[] = [];
        const a: CoreFeature = {
          name: 'alpha',
          migrations: { sqlite: [...table('alpha_rows').sqlite, { name: '0002_more', sql: 'ALTER TABLE alpha_rows ADD COLUMN n INTEGER' }], postgres: [...table('alpha_rows').postgres, { name: '0002_more', sql: 'ALTER TABLE alpha_rows ADD COLUMN n integer' }] },
          async setup(kit) {
            // The table exists by now.
            seen.push(`alpha ${await kit.db.execute('DELETE FROM alpha_rows')}`);
          },
        };
        const b: CoreFeature = { name: 'beta', migrations: table('beta_rows'), setup: () => void seen.push('beta') };
        await withCore({ features: [a, b], stores }, async () => {});
        await withCore({ features: [a, b], stores }, async () => {});
        assert.deepEqual(seen, ['alpha 0', 'beta', 'alpha 0', 'beta'], 'setup once per core, in order');
        const rows = await stores.database.query<{ name: string }>("SELECT name FROM schema_migrations WHERE name LIKE '%/%' ORDER BY applied_at, name");
        assert.deepEqual(rows.map((r) => r.name).sort(), ['alpha/0001_table', 'alpha/0002_more', 'beta/0001_table']);
      } finally {
        await stores.close();
      }
    });

    test('a bad feature list or a failing setup fails createTokenstile', async () => {
      const stores = await backend.open();
      try {
        const open = (features: CoreFeature[]) => createTokenstile({ stores, issuer, passwordHasher: fastHasher, features });
        await assert.rejects(open([{ name: 'twice' }, { name: 'twice' }]), /listed twice/);
        await assert.rejects(open([{ name: 'Bad Name' }]), /feature name/);
        let closed = false;
        const failing: CoreFeature = {
          name: 'failing',
          setup(kit) {
            kit.onClose(() => void (closed = true));
            throw new Error('cannot start');
          },
        };
        await assert.rejects(open([failing]), /cannot start/);
        assert.equal(closed, true, 'what the failed core started was closed');
      } finally {
        await stores.close();
      }
    });

    test('gates run in login after the password matched, not in startSession; a refusal starts no session', async () => {
      const attempts: string[] = [];
      const gated: CoreFeature<{ kit: FeatureKit }> = {
        name: 'gated',
        setup(kit) {
          kit.addSignInGate(async ({ user, amr }) => (attempts.push(`${user.email} ${amr.join(' ')}`), user.email.startsWith('refused.') ? { code: 'mfa_required', details: { methods: ['totp'] } } : null));
          return { kit };
        },
      };
      await withCore({ features: [gated] }, async (core, _clock, events) => {
        const email = `refused.${uniqueEmail()}`;
        const user = await core.register({ email, password: goodPassword });
        assert.ok(user.ok);
        assert.deepEqual(await core.login({ email, password: 'wrong password 1' }), { ok: false, code: 'invalid_credentials' });
        assert.deepEqual(attempts, [], 'no gate for a wrong password');
        assert.deepEqual(await core.login({ email, password: goodPassword }), { ok: false, code: 'mfa_required', details: { methods: ['totp'] } });
        assert.deepEqual(attempts, [`${email} pwd`]);
        assert.deepEqual(await core.listUserSessions(user.value.id), []);
        assert.ok(events.some((e) => e.type === 'login_refused' && e.code === 'mfa_required' && e.userId === user.value.id));
        const started = await core.startSession({ userId: user.value.id, amr: ['hwk'] });
        assert.ok(started.ok, 'startSession runs no gate');
        assert.equal(attempts.length, 1);
        assert.ok(featureApi(core, gated).kit.oneTimeTokens === internals(core).oneTimeTokens);
      });
    });

    test('auth_time and email_verified: set at sign-in, kept by refresh, moved by setAuthTime and a verified email', async () => {
      await withCore({}, async (core, clock) => {
        const email = uniqueEmail();
        assert.ok((await core.register({ email, password: goodPassword })).ok);
        const login = await core.login({ email, password: goodPassword });
        assert.ok(login.ok);
        const signedInAt = Math.floor(clock.now() / 1000);
        assert.equal(payload(login.value.accessToken).auth_time, signedInAt);
        assert.equal(payload(login.value.accessToken).email_verified, false);
        assert.equal(login.value.user.emailVerified, false);
        const { stores } = internals(core);
        clock.advance(90_000);
        await stores.users.update(login.value.user.id, { emailVerifiedAt: clock.now() }, clock.now());
        const refreshed = await core.refresh(login.value.refreshToken);
        assert.ok(refreshed.ok);
        assert.equal(payload(refreshed.value.accessToken).auth_time, signedInAt, 'refresh keeps auth_time');
        assert.equal(payload(refreshed.value.accessToken).email_verified, true);
        assert.equal(refreshed.value.user.emailVerified, true);
        assert.equal(await stores.sessions.setAuthTime(login.value.session.id, clock.now()), true);
        const again = await core.refresh(refreshed.value.refreshToken);
        assert.ok(again.ok);
        assert.equal(payload(again.value.accessToken).auth_time, Math.floor(clock.now() / 1000));
        const auth = await core.authenticate(again.value.accessToken);
        assert.ok(auth.ok);
        assert.equal(auth.value.claims.auth_time, Math.floor(clock.now() / 1000));
        const introspected = await core.introspect(again.value.accessToken);
        assert.ok(introspected !== 'unavailable' && introspected.active);
        assert.equal(introspected.email_verified, true);
      });
    });

    test('opaque handles carry auth_time and email_verified in AuthInfo and introspection', async () => {
      let kit!: FeatureKit;
      const verifier: CoreFeature = { name: 'verifier', setup: (k) => void (kit = k) };
      await withCore({ opaque: true, features: [verifier] }, async (core, clock) => {
        const email = uniqueEmail();
        assert.ok((await core.register({ email, password: goodPassword })).ok);
        const login = await core.login({ email, password: goodPassword });
        assert.ok(login.ok);
        const auth = await core.authenticate(login.value.accessToken);
        assert.ok(auth.ok);
        assert.equal(auth.value.claims.auth_time, Math.floor(clock.now() / 1000));
        assert.equal(auth.value.claims.email_verified, false);
        const { stores } = internals(core);
        await stores.users.update(login.value.user.id, { emailVerifiedAt: clock.now() }, clock.now());
        // What a feature does after verifying: drop the cached view.
        await kit.dropCache(login.value.user.id);
        const introspected = await core.introspect(login.value.accessToken);
        assert.ok(introspected !== 'unavailable' && introspected.active);
        assert.equal(introspected.email_verified, true);
        assert.equal(introspected.auth_time, Math.floor(clock.now() / 1000));
      });
    });

    test('one-time tokens: issued as tso_ + 32 bytes, consumed once (also by parallel callers), expired and purged by the clock', async () => {
      await withCore({}, async (core, clock) => {
        const tokens = internals(core).oneTimeTokens;
        const user = await core.register({ email: uniqueEmail(), password: goodPassword });
        assert.ok(user.ok);
        const token = await tokens.issue({ purpose: 'email_verify', userId: user.value.id, subject: 'x@example.com', data: { next: '/account' }, ttlMs: 60_000 });
        assert.match(token, /^tso_[A-Za-z0-9_-]{43}$/);
        const rows = await internals(core).stores.database.query<Record<string, unknown>>('SELECT * FROM one_time_tokens');
        assert.ok(!JSON.stringify(rows).includes(token.slice(4)), 'only the hash is stored');
        assert.equal(await tokens.consume('password_reset', token), null, 'another purpose');
        assert.equal(await tokens.consume('email_verify', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), null, 'another token');
        assert.equal(await tokens.consume('email_verify', 'garbage'), null);
        const results = await Promise.all(Array.from({ length: 10 }, () => tokens.consume('email_verify', token)));
        const won = results.filter((r) => r !== null);
        assert.equal(won.length, 1);
        assert.deepEqual(won[0], { userId: user.value.id, subject: 'x@example.com', data: { next: '/account' }, createdAt: clock.now(), expiresAt: clock.now() + 60_000 });
        const late = await tokens.issue({ purpose: 'email_verify', userId: null, ttlMs: 60_000 });
        clock.advance(60_000);
        assert.equal(await tokens.consume('email_verify', late), null, 'expired');
        await core.purge();
        assert.deepEqual(await internals(core).stores.database.query('SELECT hash FROM one_time_tokens'), [], 'purged');
        assert.equal(await tokens.revokeFor(user.value.id, []), 0);
        await assert.rejects(tokens.issue({ purpose: 'Bad Purpose', userId: null, ttlMs: 1 }), /purpose/);
        await assert.rejects(tokens.issue({ purpose: 'ok', userId: null, ttlMs: 0 }), /ttlMs/);
      });
    });
  });
}
