// Sessions the host app starts for users it signed in itself, users without a password, and the
// credential stamp that keeps a sign-in from outliving a credential change.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import type { PasswordHasher } from '../../src/core/password.ts';
import { createTokenstile, type Tokenstile } from '../../src/core/tokenstile.ts';
import type { AuthEvent } from '../../src/core/events.ts';
import type { Stores } from '../../src/core/stores.ts';
import { uuidv7 } from '../../src/core/ids.ts';
import { databaseBackends } from '../backend-fixtures.ts';
import { fastHasher, goodPassword, issuer } from '../helpers.ts';

/** A hasher whose next `verify` waits, once armed, until released; `entered` resolves when it is waiting. */
function gatedHasher() {
  let gate: { entered: () => void; released: Promise<void> } | null = null;
  const hasher: PasswordHasher = {
    hash: (p) => fastHasher.hash(p),
    async verify(hash, p) {
      const mine = gate;
      gate = null;
      if (mine) {
        mine.entered();
        await mine.released;
      }
      return fastHasher.verify(hash, p);
    },
  };
  return {
    hasher,
    /** Makes the next verification wait; returns when it started waiting, and how to let it go. */
    arm() {
      let entered!: () => void;
      let release!: () => void;
      const started = new Promise<void>((resolve) => (entered = resolve));
      gate = { entered, released: new Promise<void>((resolve) => (release = resolve)) };
      return { started, release };
    },
  };
}

const payload = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

for (const backend of await databaseBackends()) {
  describe(`${backend.name}: sessions the host app starts`, () => {
    const open: Array<{ core: Tokenstile; stores: Stores }> = [];
    after(async () => {
      for (const { core, stores } of open) {
        await core.close();
        await stores.close();
      }
    });
    async function setup(options: { hasher?: PasswordHasher; accessTokenFormat?: 'jwt' | 'opaque' } = {}) {
      const stores = await backend.open();
      const events: AuthEvent[] = [];
      const clock = new ManualClock(Date.now());
      const core = await createTokenstile({
        stores, issuer, clock, passwordHasher: options.hasher ?? fastHasher, rateLimits: false,
        accessTokenFormat: options.accessTokenFormat ?? 'jwt', onEvent: (e) => events.push(e),
      });
      open.push({ core, stores });
      return { core, stores, events, clock };
    }

    test('createUser makes a user without a password: password sign-in answers invalid_credentials after one dummy verification', async () => {
      const verified: string[] = [];
      const hasher: PasswordHasher = { hash: (p) => fastHasher.hash(p), verify: (h, p) => (verified.push(h), fastHasher.verify(h, p)) };
      const { core, stores, events } = await setup({ hasher });
      const created = await core.createUser({ email: ' OAuth.User@Example.com ', name: 'From GitHub' });
      assert.ok(created.ok);
      assert.deepEqual(created.value, { id: created.value.id, email: 'oauth.user@example.com', name: 'From GitHub', emailVerified: false });
      assert.deepEqual(await stores.credentials.list(created.value.id, 'password'), []);
      assert.deepEqual(await core.createUser({ email: 'oauth.user@example.com' }), { ok: false, code: 'email_taken' });
      const bad = await core.createUser({ email: 'not an email' });
      assert.equal(!bad.ok && bad.code === 'invalid_request' && bad.field, 'email');

      for (const password of [goodPassword, '', 'anything at all 1']) {
        assert.deepEqual(await core.login({ email: 'oauth.user@example.com', password }), { ok: false, code: 'invalid_credentials' });
      }
      const unknown = await core.login({ email: 'nobody@example.com', password: goodPassword });
      assert.deepEqual(unknown, { ok: false, code: 'invalid_credentials' });
      assert.equal(verified.length, 4, 'one verification each, as for an unknown email');
      assert.equal(new Set(verified).size, 1, 'all against the one dummy hash');
      assert.ok(events.some((e) => e.type === 'user_created' && e.userId === created.value.id));
      const failures = events.filter((e) => e.type === 'login_failed');
      assert.ok(failures.every((e) => e.type === 'login_failed' && e.reason === 'invalid_credentials'));
      const changed = await core.startSession({ userId: created.value.id, amr: ['fed'] });
      assert.ok(changed.ok);
      const auth = await core.authenticate(changed.value.accessToken);
      assert.ok(auth.ok);
      const change = await core.changePassword(auth.value, { currentPassword: '', newPassword: 'brand new pass 7' });
      assert.deepEqual(change, { ok: false, code: 'invalid_credentials' }, 'no password to change');
    });

    test('startSession hands out the tokens login does, with amr in the token, refresh, introspection, and logout', async () => {
      const { core, events } = await setup();
      const user = await core.createUser({ email: 'sso@example.com' });
      assert.ok(user.ok);
      const started = await core.startSession({ userId: user.value.id, amr: ['hwk', 'pin', 'mfa'], device: { userAgent: 'phone', ip: '198.51.100.7' } });
      assert.ok(started.ok);
      const t = started.value;
      assert.deepEqual(Object.keys(t).sort(), ['accessToken', 'expiresIn', 'refreshExpiresIn', 'refreshToken', 'session', 'tokenType', 'user']);
      assert.equal(t.tokenType, 'Bearer');
      assert.deepEqual(t.user, user.value);
      assert.deepEqual(payload(t.accessToken).amr, ['hwk', 'pin', 'mfa']);
      assert.ok(events.some((e) => e.type === 'session_started' && e.sessionId === t.session.id && e.amr === 'hwk pin mfa' && e.ip === '198.51.100.7'));
      const [listed] = await core.listUserSessions(user.value.id);
      assert.equal(listed?.userAgent, 'phone');
      assert.deepEqual(listed?.amr, ['hwk', 'pin', 'mfa']);

      const introspected = await core.introspect(t.accessToken);
      assert.ok(introspected !== 'unavailable' && introspected.active);
      assert.deepEqual(introspected.amr, ['hwk', 'pin', 'mfa']);
      const refreshIntrospected = await core.introspect(t.refreshToken);
      assert.ok(refreshIntrospected !== 'unavailable' && refreshIntrospected.active && refreshIntrospected.tokenType === 'refresh_token');
      assert.deepEqual(refreshIntrospected.amr, ['hwk', 'pin', 'mfa']);

      const refreshed = await core.refresh(t.refreshToken, { userAgent: 'phone' });
      assert.ok(refreshed.ok);
      assert.deepEqual(payload(refreshed.value.accessToken).amr, ['hwk', 'pin', 'mfa'], 'the successor carries it too');
      const retry = await core.refresh(t.refreshToken, { userAgent: 'phone' });
      assert.ok(retry.ok, 'a grace retry');
      assert.deepEqual(payload(retry.value.accessToken).amr, ['hwk', 'pin', 'mfa']);

      const auth = await core.authenticate(refreshed.value.accessToken);
      assert.ok(auth.ok);
      await core.logout(auth.value, 'local');
      assert.deepEqual(await core.authenticate(refreshed.value.accessToken), { ok: false, code: 'session_revoked' });
      assert.equal((await core.refresh(refreshed.value.refreshToken)).ok, false);
    });

    test('a password sign-in records amr pwd', async () => {
      const { core } = await setup();
      assert.ok((await core.register({ email: 'pw@example.com', password: goodPassword })).ok);
      const login = await core.login({ email: 'pw@example.com', password: goodPassword }, {});
      assert.ok(login.ok);
      assert.deepEqual(payload(login.value.accessToken).amr, ['pwd']);
    });

    test('opaque access handles report the session\'s amr through introspection', async () => {
      const { core } = await setup({ accessTokenFormat: 'opaque' });
      const user = await core.createUser({ email: 'opaque@example.com' });
      assert.ok(user.ok);
      const started = await core.startSession({ userId: user.value.id, amr: ['otp'] });
      assert.ok(started.ok);
      const introspected = await core.introspect(started.value.accessToken);
      assert.ok(introspected !== 'unavailable' && introspected.active);
      assert.deepEqual(introspected.amr, ['otp']);
    });

    test('startSession refuses unknown amr values naming the field, and users that do not exist or are disabled', async () => {
      const { core } = await setup();
      const user = await core.createUser({ email: 'checks@example.com' });
      assert.ok(user.ok);
      const userId = user.value.id;
      for (const amr of [[], ['password'], ['pwd', 'pwd'], 'pwd', [1], ['pwd', '<script>'], Array(9).fill('pwd'), undefined]) {
        const r = await core.startSession({ userId, amr: amr as never });
        assert.equal(r.ok, false, JSON.stringify(amr));
        assert.equal(!r.ok && r.code, 'invalid_request');
        assert.equal(!r.ok && r.field, 'amr');
        assert.ok(!r.ok && !r.reason!.includes('<script>'), 'the reason does not echo markup');
      }
      const named = await core.startSession({ userId, amr: ['pwd', 'password'] });
      assert.match(!named.ok ? named.reason! : '', /unknown value "password"/);
      assert.deepEqual(await core.startSession({ userId: uuidv7(Date.now()), amr: ['pwd'] }), { ok: false, code: 'not_found' });
      assert.deepEqual(await core.startSession({ userId: 'not-an-id', amr: ['pwd'] }), { ok: false, code: 'not_found' });
      await core.disableUser(userId);
      assert.deepEqual(await core.startSession({ userId, amr: ['fed'] }), { ok: false, code: 'account_disabled' });
      assert.deepEqual(await core.listUserSessions(userId), []);
    });

    test('a sign-in whose password check straddles a password change starts no session', async () => {
      const gated = gatedHasher();
      const { core, stores } = await setup({ hasher: gated.hasher });
      assert.ok((await core.register({ email: 'race@example.com', password: goodPassword })).ok);
      const mine = await core.login({ email: 'race@example.com', password: goodPassword });
      assert.ok(mine.ok);
      const auth = await core.authenticate(mine.value.accessToken);
      assert.ok(auth.ok);
      const stampBefore = (await stores.users.byId(auth.value.userId))!.credentialStamp;

      const { started, release } = gated.arm();
      const racing = core.login({ email: 'race@example.com', password: goodPassword }, { userAgent: 'attacker' });
      await started; // the old password has been read and is being checked
      assert.ok((await core.changePassword(auth.value, { currentPassword: goodPassword, newPassword: 'brand new pass 7' })).ok);
      assert.notEqual((await stores.users.byId(auth.value.userId))!.credentialStamp, stampBefore, 'the change moved the stamp');
      release();
      assert.deepEqual(await racing, { ok: false, code: 'invalid_credentials' });
      const live = await core.listUserSessions(auth.value.userId);
      assert.deepEqual(live.map((s) => s.id), [mine.value.session.id], 'only the session that changed the password');
      assert.ok((await core.login({ email: 'race@example.com', password: 'brand new pass 7' })).ok);
    });
  });
}
