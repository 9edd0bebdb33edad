import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import type { PasswordHasher } from '../../src/core/password.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { fastHasher, goodPassword, issuer } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

/** A hasher that records what it was asked to verify. */
function countingHasher(): PasswordHasher & { verified: string[] } {
  const verified: string[] = [];
  return {
    verified,
    hash: (p) => fastHasher.hash(p),
    verify: (hash, p) => {
      verified.push(hash);
      return fastHasher.verify(hash, p);
    },
  };
}

async function core(options: { clock?: ManualClock; hasher?: PasswordHasher; purgeInterval?: string } = {}) {
  const stores = openSqliteStores(':memory:');
  const ts = await createTokenstile({ stores, issuer, passwordHasher: options.hasher ?? fastHasher, clock: options.clock, purgeInterval: options.purgeInterval });
  return { ts, stores, close: async () => (await ts.close(), await stores.close()) };
}

describe('login does not reveal which emails exist', () => {
  test('an unknown email costs the same one argon2 verification as a wrong password, with the same parameters', async () => {
    const hasher = countingHasher();
    const { ts, stores, close } = await core({ hasher });
    try {
      await ts.register({ email: 'known@example.com', password: goodPassword });
      const wrong = await ts.login({ email: 'known@example.com', password: 'wrong password 1' });
      const unknown = await ts.login({ email: 'nobody@example.com', password: 'wrong password 1' });
      const malformed = await ts.login({ email: 'not-an-email', password: 'wrong password 1' });
      assert.deepEqual([wrong, unknown, malformed], [{ ok: false, code: 'invalid_credentials' }, { ok: false, code: 'invalid_credentials' }, { ok: false, code: 'invalid_credentials' }]);
      assert.equal(hasher.verified.length, 3);
      const known = (await stores.users.byEmail('known@example.com'))!;
      const real = (await stores.credentials.list(known.id, 'password'))[0]!.secret;
      const params = (h: string) => h.split('$').slice(1, 4).join('$'); // argon2id$v=19$m=…,t=…,p=…
      assert.equal(hasher.verified[0], real);
      assert.notEqual(hasher.verified[1], real);
      assert.equal(params(hasher.verified[1]!), params(real));
      assert.equal(params(hasher.verified[2]!), params(real));
    } finally {
      await close();
    }
  });

  test('a disabled account answers as a wrong password does, whatever the password, after the same one verification', async () => {
    const hasher = countingHasher();
    const { ts, close } = await core({ hasher });
    try {
      const reg = await ts.register({ email: 'gone@example.com', password: goodPassword });
      assert.ok(reg.ok);
      assert.ok((await ts.disableUser(reg.value.id)).ok);
      hasher.verified.length = 0;
      const right = await ts.login({ email: 'gone@example.com', password: goodPassword });
      const wrong = await ts.login({ email: 'gone@example.com', password: 'wrong password 1' });
      assert.deepEqual(right, { ok: false, code: 'invalid_credentials' }, 'the correct password is not confirmed');
      assert.deepEqual(wrong, right);
      assert.equal(hasher.verified.length, 2, 'one argon2 verification each, as for any wrong password');
      // Only the operator's audit trail tells the two apart (it is written off the request path).
      let reasons: Array<string | undefined> = [];
      for (const until = Date.now() + 10_000; reasons.length < 2 && Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
        reasons = (await ts.audit({ userId: reg.value.id, limit: 10 })).filter((e) => e.type === 'login_failed').map((e) => e.detail.reason);
      }
      assert.deepEqual(reasons.sort(), ['account_disabled', 'invalid_credentials']);
    } finally {
      await close();
    }
  });

  test('emails are matched without regard to case or surrounding spaces', async () => {
    const { ts, close } = await core();
    try {
      assert.ok((await ts.register({ email: ' Mixed@Example.COM ', password: goodPassword })).ok);
      assert.ok((await ts.login({ email: 'mixed@example.com', password: goodPassword })).ok);
      assert.deepEqual(await ts.register({ email: 'MIXED@example.com', password: goodPassword }), { ok: false, code: 'email_taken' });
    } finally {
      await close();
    }
  });
});

describe('purging without a cron job', () => {
  test('expired sessions and revocation entries go in the background once the purge interval has passed', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { ts, stores, close } = await core({ clock, purgeInterval: '1h' });
    try {
      await ts.register({ email: 'p@example.com', password: goodPassword });
      const a = await ts.login({ email: 'p@example.com', password: goodPassword });
      const b = await ts.login({ email: 'p@example.com', password: goodPassword });
      assert.ok(a.ok && b.ok);
      await ts.revoke({ sessionId: b.value.session.id });
      assert.equal(ts.revocationCount, 1);
      internals(ts).tick(); // the first tick after start purges (nothing is due yet)
      await ts.close();
      assert.ok(await stores.sessions.get(b.value.session.id), 'a revoked session stays while its access token could be valid');
      clock.advance(8 * 86_400_000); // past the 7-day session lifetime and the revocation's
      const c = await ts.login({ email: 'p@example.com', password: goodPassword });
      assert.ok(c.ok);
      assert.ok(await stores.sessions.get(a.value.session.id), 'nothing is deleted until the purge comes round');
      internals(ts).tick();
      await ts.close(); // waits for the purge under way
      assert.equal(await stores.sessions.get(a.value.session.id), null);
      assert.equal(await stores.sessions.get(b.value.session.id), null);
      assert.ok(await stores.sessions.get(c.value.session.id));
      assert.deepEqual(await stores.revocations.liveRevocations(0), []);
      assert.equal(ts.revocationCount, 0);
      assert.deepEqual(await ts.purge(), { sessions: 0, revocations: 0 }, 'nothing left for an explicit purge');
    } finally {
      await close();
    }
  });
});

/** A hasher whose next verification waits until `release()` is called. */
function gatedHasher() {
  let gate: Promise<void> | null = null;
  let release = () => {};
  let entered = () => {};
  return {
    hash: (p: string) => fastHasher.hash(p),
    async verify(hash: string, p: string) {
      const result = await fastHasher.verify(hash, p);
      if (gate) {
        const g = gate;
        gate = null;
        entered();
        await g;
      }
      return result;
    },
    /** Arms the gate; resolves once a verification is held at it. */
    arm(): Promise<void> {
      gate = new Promise((r) => (release = r));
      return new Promise((r) => (entered = r));
    },
    release: () => release(),
  };
}

describe('sessions cannot outlive a credential change they raced', () => {
  for (const change of ['password change', 'disable'] as const) {
    test(`a login whose password check passed just before a ${change} gets no session`, async () => {
      const hasher = gatedHasher();
      const { ts, close } = await core({ hasher });
      try {
        await ts.register({ email: 'race@example.com', password: goodPassword });
        const first = await ts.login({ email: 'race@example.com', password: goodPassword });
        assert.ok(first.ok);
        const held = hasher.arm();
        const racing = ts.login({ email: 'race@example.com', password: goodPassword });
        await held; // the racing login has checked the old password and waits
        if (change === 'password change') {
          const auth = await ts.authenticate(first.value.accessToken);
          assert.ok(auth.ok);
          const changed = await ts.changePassword(auth.value, { currentPassword: goodPassword, newPassword: 'brand new pass 9' });
          assert.ok(changed.ok);
        } else {
          const user = await ts.findUser('race@example.com');
          assert.ok((await ts.disableUser(user!.id)).ok);
        }
        hasher.release();
        assert.deepEqual(await racing, { ok: false, code: 'invalid_credentials' });
        const left = await ts.listUserSessions((await ts.findUser('race@example.com'))!.id);
        assert.deepEqual(left.map((x) => x.id), change === 'disable' ? [] : [first.value.session.id], 'only the caller of the change keeps a session');
      } finally {
        await close();
      }
    });
  }
});

describe('signing keys', () => {
  test('the key generated on first start is reused by every later start', async () => {
    const stores = openSqliteStores(':memory:');
    try {
      const first = await createTokenstile({ stores, issuer, passwordHasher: fastHasher });
      const kid = first.jwks().keys[0]!.kid;
      await first.close();
      const second = await createTokenstile({ stores, issuer, passwordHasher: fastHasher });
      assert.deepEqual(second.jwks().keys.map((k) => k.kid), [kid]);
      await second.close();
      const eddsa = await createTokenstile({ stores, issuer, passwordHasher: fastHasher, signingAlgorithm: 'EdDSA' });
      assert.deepEqual(eddsa.jwks().keys.map((k) => k.alg), ['EdDSA'], 'only keys of the pinned algorithm are published');
      await eddsa.close();
    } finally {
      await stores.close();
    }
  });

  test('the JWKS holds public keys only', async () => {
    const { ts, close } = await core();
    try {
      for (const key of ts.jwks().keys) {
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(secret in key, false, secret);
        assert.equal(key.use, 'sig');
      }
    } finally {
      await close();
    }
  });
});
