import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appMode, bearer, goodPassword, tempDir, testApp, type TestApp, type TokenBody, withTwoInstances } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';
import { internals } from '../../src/core/core-internals.ts';

/** Runs `fn` with a fresh app (its own database and clock) and always closes it. */
async function withApp(fn: (t: TestApp) => Promise<void>, options: Parameters<typeof testApp>[0] = {}): Promise<void> {
  const t = await testApp(options);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

const me = (t: TestApp, token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });
const refresh = (t: TestApp, refreshToken: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
const logout = (t: TestApp, token: string, scope: string) =>
  t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token), payload: { scope } });

async function loginAgain(t: TestApp, s: TokenBody): Promise<TokenBody> {
  const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.user.email, password: goodPassword } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

async function rotate(t: TestApp, refreshToken: string): Promise<TokenBody> {
  const res = await refresh(t, refreshToken);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

describe('ending a session refuses its access tokens at once, not at their expiry', () => {
  test('logout local: every access token of the session, older ones included, is refused', () =>
    withApp(async (t) => {
      const s = await t.signUp();
      const other = await loginAgain(t, s);
      const rotated = await rotate(t, s.refreshToken);
      assert.equal((await logout(t, rotated.accessToken, 'local')).statusCode, 204);
      expectTokenRefused(await me(t, rotated.accessToken), 'session_revoked');
      expectTokenRefused(await me(t, s.accessToken), 'session_revoked');
      expectProblem(await refresh(t, rotated.refreshToken), 401, 'invalid_refresh_token');
      assert.equal((await me(t, other.accessToken)).statusCode, 200);
    }));

  test('logout global: every session of the user is refused, the caller\'s included', () =>
    withApp(async (t) => {
      const a = await t.signUp();
      const b = await loginAgain(t, a);
      const c = await loginAgain(t, a);
      assert.equal((await logout(t, b.accessToken, 'global')).statusCode, 204);
      for (const s of [a, b, c]) {
        expectTokenRefused(await me(t, s.accessToken), 'session_revoked');
        expectProblem(await refresh(t, s.refreshToken), 401, 'invalid_refresh_token');
      }
    }));

  test('logout others: the other sessions are refused, the caller\'s goes on', () =>
    withApp(async (t) => {
      const a = await t.signUp();
      const b = await loginAgain(t, a);
      const c = await loginAgain(t, a);
      assert.equal((await logout(t, a.accessToken, 'others')).statusCode, 204);
      assert.equal((await me(t, a.accessToken)).statusCode, 200);
      assert.equal((await refresh(t, a.refreshToken)).statusCode, 200);
      for (const s of [b, c]) {
        expectTokenRefused(await me(t, s.accessToken), 'session_revoked');
        expectProblem(await refresh(t, s.refreshToken), 401, 'invalid_refresh_token');
      }
    }));

  test('session revoke: the revoked session\'s token is refused', () =>
    withApp(async (t) => {
      const a = await t.signUp();
      const b = await loginAgain(t, a);
      const res = await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${b.session.id}`, headers: bearer(a.accessToken) });
      assert.equal(res.statusCode, 204, res.body);
      expectTokenRefused(await me(t, b.accessToken), 'session_revoked');
      assert.equal((await me(t, a.accessToken)).statusCode, 200);
    }));

  test('password change: the other sessions\' tokens are refused', () =>
    withApp(async (t) => {
      const a = await t.signUp();
      const b = await loginAgain(t, a);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/password',
        headers: bearer(a.accessToken),
        payload: { currentPassword: goodPassword, newPassword: 'a new secret 99' },
      });
      assert.equal(res.statusCode, 204, res.body);
      expectTokenRefused(await me(t, b.accessToken), 'session_revoked');
      assert.equal((await me(t, a.accessToken)).statusCode, 200);
    }));
});

/** A barrier for the first two callers: each waits until both have arrived; later callers pass. */
function meetingPoint(): () => Promise<void> {
  const held: Array<() => void> = [];
  return async () => {
    if (held.length >= 2) return;
    await new Promise<void>((resolve) => {
      held.push(resolve);
      if (held.length === 2) for (const release of held) release();
    });
  };
}

/**
 * Two parallel refreshes with `refreshToken`: both tried to rotate (`outcomes`, one won), both get
 * the same successor, which works and rotates on.
 */
async function expectOneLineage(t: TestApp, refreshToken: string, outcomes: boolean[]): Promise<void> {
  const [r1, r2] = await Promise.all([refresh(t, refreshToken), refresh(t, refreshToken)]);
  assert.deepEqual(outcomes.sort(), [false, true], 'both requests tried to rotate');
  assert.equal(r1.statusCode, 200, r1.body);
  assert.equal(r2.statusCode, 200, r2.body);
  assert.equal(r1.json().refreshToken, r2.json().refreshToken);
  assert.equal((await me(t, r2.json().accessToken)).statusCode, 200);
  const after = await refresh(t, r1.json().refreshToken);
  assert.equal(after.statusCode, 200, after.body);
}

describe('refresh-token reuse', () => {
  test('a spent token outside the grace window is refresh_token_reused and revokes the whole session', () =>
    withApp(async (t) => {
      const s = await t.signUp();
      const bystander = await loginAgain(t, s);
      const next = await rotate(t, s.refreshToken);
      t.clock.advance(10_001 + 1000);
      expectProblem(await refresh(t, s.refreshToken), 401, 'refresh_token_reused');
      expectTokenRefused(await me(t, next.accessToken), 'session_revoked');
      expectTokenRefused(await me(t, s.accessToken), 'session_revoked');
      expectProblem(await refresh(t, next.refreshToken), 401, 'invalid_refresh_token');
      // Only that session: the user's other session is untouched.
      assert.equal((await me(t, bystander.accessToken)).statusCode, 200);
      assert.equal((await refresh(t, bystander.refreshToken)).statusCode, 200);
    }));

  test('a token two generations old is reuse even inside the grace window', () =>
    withApp(async (t) => {
      const s = await t.signUp();
      const g1 = await rotate(t, s.refreshToken);
      const g2 = await rotate(t, g1.refreshToken);
      expectProblem(await refresh(t, s.refreshToken), 401, 'refresh_token_reused');
      expectTokenRefused(await me(t, g2.accessToken), 'session_revoked');
      expectProblem(await refresh(t, g2.refreshToken), 401, 'invalid_refresh_token');
    }));

  test('two parallel refreshes with one token both succeed with the same successor (one lineage)', () =>
    withApp(async (t) => {
      const s = await t.signUp();
      const [r1, r2] = await Promise.all([refresh(t, s.refreshToken), refresh(t, s.refreshToken)]);
      assert.equal(r1.statusCode, 200, r1.body);
      assert.equal(r2.statusCode, 200, r2.body);
      const b1 = r1.json() as TokenBody;
      const b2 = r2.json() as TokenBody;
      assert.equal(b1.refreshToken, b2.refreshToken);
      assert.notEqual(b1.refreshToken, s.refreshToken);
      assert.equal(b1.session.id, s.session.id);
      assert.equal(b2.session.id, s.session.id);
      assert.equal((await me(t, b1.accessToken)).statusCode, 200);
      assert.equal((await me(t, b2.accessToken)).statusCode, 200);
      const after = await rotate(t, b1.refreshToken);
      assert.equal((await me(t, after.accessToken)).statusCode, 200);
    }));

  test('when both parallel refreshes reach the rotation together, one wins and both get its successor', () =>
    withApp(async (t) => {
      const s = await t.signUp();
      // Hold the first two rotation attempts until both have arrived, so the two requests truly race.
      const sessions = internals(t.app.tokenstile).stores.sessions;
      const rotateInStore = sessions.rotate.bind(sessions);
      const meet = meetingPoint();
      const winners: boolean[] = [];
      sessions.rotate = async (...args) => {
        await meet();
        const user = await rotateInStore(...args);
        winners.push(user !== null);
        return user;
      };
      await expectOneLineage(t, s.refreshToken, winners);
    }));

  test('a retry inside the grace window (5s later) gets the same successor, which works', () =>
    withApp(async (t) => {
      const s = await t.signUp();
      const first = await rotate(t, s.refreshToken);
      t.clock.advance(5_000);
      const retry = await rotate(t, s.refreshToken);
      assert.equal(retry.refreshToken, first.refreshToken);
      assert.equal((await me(t, retry.accessToken)).statusCode, 200);
      const next = await rotate(t, retry.refreshToken);
      assert.notEqual(next.refreshToken, first.refreshToken);
      assert.equal((await me(t, next.accessToken)).statusCode, 200);
      if (appMode === 'opaque') {
        // One lineage, one handle: the retry got the very handle the first call did, and the
        // next refresh replaced it.
        assert.equal(retry.accessToken, first.accessToken);
        expectTokenRefused(await me(t, first.accessToken), 'token_expired');
      } else {
        assert.equal((await me(t, first.accessToken)).statusCode, 200);
      }
    }));
});

describe('expiry follows the injected clock', () => {
  test('an access token is accepted up to 15m + tolerance, then 401 token_expired', () =>
    withApp(async (t) => {
      const s = await t.signUp();
      t.clock.advance((900 + 5 - 1) * 1000);
      assert.equal((await me(t, s.accessToken)).statusCode, 200);
      t.clock.advance(2_000);
      expectTokenRefused(await me(t, s.accessToken), 'token_expired');
      // The session itself is alive: a refresh gives a working token.
      const next = await rotate(t, s.refreshToken);
      assert.equal((await me(t, next.accessToken)).statusCode, 200);
    }));

  test('a refresh token idle for 7 days is invalid_refresh_token; one used in time slides on', () =>
    withApp(async (t) => {
      const idle = await t.signUp();
      const active = await t.signUp();
      t.clock.advance(7 * 86400_000 - 60_000);
      const renewed = await rotate(t, active.refreshToken);
      assert.equal(renewed.refreshExpiresIn, 7 * 86400);
      t.clock.advance(120_000);
      expectProblem(await refresh(t, idle.refreshToken), 401, 'invalid_refresh_token');
      assert.equal((await refresh(t, renewed.refreshToken)).statusCode, 200);
    }));
});

describe('revocations are durable and shared', () => {
  test('a revoked token stays refused after a restart on the same database file; a live one still works', async () => {
    const dir = tempDir();
    const databaseUrl = `sqlite:${dir.path}/t.db`;
    try {
      let revoked: TokenBody;
      let live: TokenBody;
      const first = await testApp({ databaseUrl });
      try {
        revoked = await first.signUp();
        live = await first.signUp();
        assert.equal((await logout(first, revoked.accessToken, 'local')).statusCode, 204);
      } finally {
        await first.close();
      }
      await withApp(async (t) => {
        expectTokenRefused(await me(t, revoked.accessToken), 'session_revoked');
        expectProblem(await refresh(t, revoked.refreshToken), 401, 'invalid_refresh_token');
        assert.equal((await me(t, live.accessToken)).statusCode, 200);
        const next = await rotate(t, live.refreshToken);
        assert.equal((await me(t, next.accessToken)).statusCode, 200);
      }, { databaseUrl });
    } finally {
      dir.cleanup();
    }
  });

  for (const scope of ['local', 'global'] as const) {
    test(`a ${scope} logout on another instance reaches this one on syncRevocations()`, () =>
      withTwoInstances(0, async (a, b) => {
        const s = await a.signUp();
        const bystander = await a.signUp();
        assert.equal((await me(a, s.accessToken)).statusCode, 200);
        // Instance B shares the keys, so it accepts A's token and ends its session.
        assert.equal((await logout(b, s.accessToken, scope)).statusCode, 204);
        expectTokenRefused(await me(b, s.accessToken), 'session_revoked');
        await internals(a.app.tokenstile).syncRevocations();
        expectTokenRefused(await me(a, s.accessToken), 'session_revoked');
        assert.equal((await me(a, bystander.accessToken)).statusCode, 200);
      }));
  }
});
