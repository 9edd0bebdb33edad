import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import type { PasswordHasher } from '../../src/core/password.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { fastHasher, goodPassword, issuer } from '../helpers.ts';

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
      const real = (await stores.users.byEmail('known@example.com'))!.passwordHash;
      const params = (h: string) => h.split('$').slice(1, 4).join('$'); // argon2id$v=19$m=…,t=…,p=…
      assert.equal(hasher.verified[0], real);
      assert.notEqual(hasher.verified[1], real);
      assert.equal(params(hasher.verified[1]!), params(real));
      assert.equal(params(hasher.verified[2]!), params(real));
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
  test('expired sessions and revocation entries go on the back of a login once the interval has passed', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { ts, stores, close } = await core({ clock, purgeInterval: '1h' });
    try {
      await ts.register({ email: 'p@example.com', password: goodPassword });
      const a = await ts.login({ email: 'p@example.com', password: goodPassword });
      const b = await ts.login({ email: 'p@example.com', password: goodPassword });
      assert.ok(a.ok && b.ok);
      await ts.revoke({ sessionId: b.value.session.id });
      assert.equal(ts.revocationCount, 1);
      clock.advance(8 * 86_400_000); // past the 7-day session lifetime and the revocation's
      assert.ok(await stores.sessions.get(a.value.session.id), 'nothing is deleted before a request comes');
      const c = await ts.login({ email: 'p@example.com', password: goodPassword });
      assert.ok(c.ok);
      await ts.close(); // waits for the background purge
      assert.equal(await stores.sessions.get(a.value.session.id), null);
      assert.equal(await stores.sessions.get(b.value.session.id), null);
      assert.ok(await stores.sessions.get(c.value.session.id));
      assert.deepEqual(await stores.sessions.liveRevocations(clock.now() - 8 * 86_400_000), []);
    } finally {
      await close();
    }
  });
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
