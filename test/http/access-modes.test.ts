import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { issueAccessToken } from '../../src/core/access-tokens.ts';
import { Keyring } from '../../src/core/keys.ts';
import type { BuildAppOptions } from '../../src/http/app.ts';
import { bearer, testApp, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';
import { internals } from '../../src/core/core-internals.ts';

/*
 * What differs between the access-token modes, on the selected backend. The whole behavioural
 * suite also runs once per mode (`TOKENSTILE_TEST_APP_MODE`, see scripts/test.mjs).
 */

const opaque: Partial<BuildAppOptions> = { accessTokenFormat: 'opaque', revocationCheck: 'pushed' };
const strict: Partial<BuildAppOptions> = { revocationCheck: 'strict' };
// Each test names what it needs; the rest follows the run's mode (TOKENSTILE_TEST_APP_MODE).

/** Counts the session reads that reach the store (through the instrumented store, any backend). */
function countSessionReads(t: TestApp): { readonly reads: number; fail: boolean } {
  const sessions = internals(t.app.tokenstile).stores.sessions;
  const real = sessions.get;
  const counter = { reads: 0, fail: false };
  sessions.get = async (id: string) => {
    counter.reads += 1;
    if (counter.fail) throw new Error('database unreachable');
    return real.call(sessions, id);
  };
  return counter;
}

async function withApp(options: Partial<BuildAppOptions>, fn: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await testApp(options);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

const me = (t: TestApp, token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });
const refresh = async (t: TestApp, refreshToken: string): Promise<TokenBody> => {
  const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
};

describe('opaque access tokens', () => {
  test('login hands out a tsa_ handle with no claims in it; the store keeps only a hash of its secret', () =>
    withApp(opaque, async (t) => {
      const s = await t.signUp();
      assert.match(s.accessToken, /^tsa_[A-Za-z0-9_-]{108}$/);
      assert.ok(!s.accessToken.includes('.'), 'not a JWS');
      assert.equal(s.expiresIn, 900);
      const row = await internals(t.app.tokenstile).stores.sessions.get(s.session.id);
      const secret = Buffer.from(s.accessToken.slice(4), 'base64url').subarray(33, 65);
      assert.equal(row?.accessHash, createHash('sha256').update(secret).digest('base64url'));
      assert.ok(!JSON.stringify(row).includes(s.accessToken.slice(4, 40)), 'the handle itself is not stored');
      const res = await me(t, s.accessToken);
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().sessionId, s.session.id);
    }));

  test('a refresh replaces the handle: the new one works, the old one is refused as token_expired', () =>
    withApp(opaque, async (t) => {
      const s = await t.signUp();
      const next = await refresh(t, s.refreshToken);
      assert.notEqual(next.accessToken, s.accessToken);
      assert.equal((await me(t, next.accessToken)).statusCode, 200);
      expectTokenRefused(await me(t, s.accessToken), 'token_expired');
    }));

  test('logout deletes the mapping: the handle is refused as session_revoked, and the row maps nothing', () =>
    withApp(opaque, async (t) => {
      const s = await t.signUp();
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) })).statusCode, 204);
      expectTokenRefused(await me(t, s.accessToken), 'session_revoked');
      assert.equal((await internals(t.app.tokenstile).stores.sessions.get(s.session.id))?.accessHash, null);
    }));

  test('garbage and altered handles are refused as invalid_token before any store read', () =>
    withApp(opaque, async (t) => {
      const s = await t.signUp();
      const counter = countSessionReads(t);
      const flipped = s.accessToken.slice(0, 50) + (s.accessToken[50] === 'A' ? 'B' : 'A') + s.accessToken.slice(51);
      for (const bad of ['tsa_', `tsa_${'A'.repeat(108)}`, flipped, `${s.accessToken}A`, s.accessToken.slice(0, -1), 'tsr_x', 'x.y.z']) {
        expectTokenRefused(await me(t, bad), 'invalid_token');
      }
      assert.equal(counter.reads, 0);
    }));

  test('a JWT signed with the server\'s own key is refused: the format is not taken from the token', () =>
    withApp(opaque, async (t) => {
      const s = await t.signUp();
      const keys = await internals(t.app.tokenstile).stores.keys.listSigningKeys();
      const ring = new Keyring(keys, 'ES256', t.clock.now(), 0);
      const jwt = issueAccessToken(ring, t.app.tokenstile.config, t.clock, { userId: s.user.id, sessionId: s.session.id });
      expectTokenRefused(await me(t, jwt.token), 'invalid_token');
    }));

  test('a handle is resolved through the session cache: one store read, then none until a refresh drops it', () =>
    withApp(opaque, async (t) => {
      const s = await t.signUp();
      const counter = countSessionReads(t);
      for (let i = 0; i < 3; i++) assert.equal((await me(t, s.accessToken)).statusCode, 200);
      assert.equal(counter.reads, 1);
      const next = await refresh(t, s.refreshToken);
      const before = counter.reads;
      for (let i = 0; i < 3; i++) assert.equal((await me(t, next.accessToken)).statusCode, 200);
      assert.equal(counter.reads - before, 1);
    }));

  test('with strict checking, every request with a handle reads the store', () =>
    withApp({ ...opaque, ...strict }, async (t) => {
      const s = await t.signUp();
      const counter = countSessionReads(t);
      for (let i = 0; i < 3; i++) assert.equal((await me(t, s.accessToken)).statusCode, 200);
      assert.equal(counter.reads, 3);
    }));

  test('a handle past its lifetime is token_expired, whatever the cache holds', () =>
    withApp(opaque, async (t) => {
      const s = await t.signUp();
      assert.equal((await me(t, s.accessToken)).statusCode, 200);
      t.clock.advance((900 + 5 + 1) * 1000);
      expectTokenRefused(await me(t, s.accessToken), 'token_expired');
    }));
});

describe('strict revocation check', () => {
  test('every protected request reads the session from the store', () =>
    withApp(strict, async (t) => {
      const s = await t.signUp();
      const counter = countSessionReads(t);
      for (let i = 0; i < 4; i++) assert.equal((await me(t, s.accessToken)).statusCode, 200);
      assert.equal(counter.reads, 4);
    }));

  test('a session ended in the store behind this instance\'s back is refused at the next request', async () => {
    // The row is revoked directly, as another process would, with no feed and no poll to tell
    // this instance: only the per-request read can know.
    const slowPoll = { revocationPollInterval: '1h', accessTokenFormat: 'jwt' } as const;
    for (const [options, expected] of [[strict, 'session_revoked'], [{ revocationCheck: 'pushed' }, 'still accepted']] as const) {
      await withApp({ ...slowPoll, ...options }, async (t) => {
        const s = await t.signUp();
        await internals(t.app.tokenstile).stores.sessions.revoke({ sessionId: s.session.id }, t.clock.now(), 60_000);
        const res = await me(t, s.accessToken);
        if (expected === 'session_revoked') expectTokenRefused(res, 'session_revoked');
        else assert.equal(res.statusCode, 200, 'pushed mode trusts its list until the next poll');
      });
    }
  });

  test('a store that cannot answer gives 503 with Retry-After, never a pass', () =>
    withApp(strict, async (t) => {
      const s = await t.signUp();
      const counter = countSessionReads(t);
      counter.fail = true;
      const res = await me(t, s.accessToken);
      expectProblem(res, 503, 'service_unavailable');
      assert.ok(Number(res.headers['retry-after']) >= 1);
    }));

  test('an opaque handle whose store read fails is 503 too', () =>
    withApp({ ...opaque, ...strict }, async (t) => {
      const s = await t.signUp();
      countSessionReads(t).fail = true;
      expectProblem(await me(t, s.accessToken), 503, 'service_unavailable');
    }));
});

test('the modes are checked at startup with a message naming the option', async () => {
  await assert.rejects(testApp({ accessTokenFormat: 'paseto' as never }), /accessTokenFormat must be one of jwt, opaque/);
  await assert.rejects(testApp({ revocationCheck: 'sometimes' as never }), /revocationCheck must be one of pushed, strict/);
});
