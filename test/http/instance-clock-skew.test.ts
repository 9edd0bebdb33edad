import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appMode, bearer, goodPassword, withTwoInstances, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';
import { internals } from '../../src/core/core-internals.ts';

/*
 * Two instances on one database whose clocks differ by a fraction of a second, as two hosts'
 * clocks do. "Log out everywhere" must end exactly the sessions that existed when it was asked
 * for, whichever instance created them and whichever ends them.
 */

const me = (t: TestApp, token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });
const refresh = (t: TestApp, refreshToken: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
const logoutEverywhere = (t: TestApp, token: string) =>
  t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token), payload: { scope: 'global' } });

describe('global logout across instances whose clocks differ', () => {
  test('a global logout on an instance whose clock runs 200 ms behind still ends the session everywhere', () =>
    withTwoInstances(-200, async (a, b) => {
      const s = await a.signUp();
      b.clock.advance(50); // the logout comes after the login in real time
      assert.equal((await logoutEverywhere(b, s.accessToken)).statusCode, 204);
      await internals(a.app.tokenstile).syncRevocations();
      expectTokenRefused(await me(b, s.accessToken), 'session_revoked');
      expectTokenRefused(await me(a, s.accessToken), 'session_revoked');
      expectProblem(await refresh(a, s.refreshToken), 401, 'invalid_refresh_token');
    }));

  test('a login made after a global logout on an instance whose clock runs 200 ms ahead keeps working', () =>
    withTwoInstances(200, async (a, b) => {
      const s = await a.signUp();
      assert.equal((await logoutEverywhere(b, s.accessToken)).statusCode, 204);
      a.clock.advance(50); // later in real time, still behind B's clock
      const login = await a.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.user.email, password: goodPassword } });
      assert.equal(login.statusCode, 200, login.body);
      const again = login.json() as TokenBody;
      await internals(a.app.tokenstile).syncRevocations();
      // The store holds this session as live (its refresh token still rotates)...
      const stored = await internals(a.app.tokenstile).stores.sessions.get(again.session.id);
      assert.equal(stored?.revokedAt, null);
      // ...so its access tokens must be accepted, not refused as session_revoked.
      assert.equal((await me(a, again.accessToken)).statusCode, 200, 'fresh login refused after sync');
      const next = await refresh(a, again.refreshToken);
      assert.equal(next.statusCode, 200, next.body);
      assert.equal((await me(a, next.json().accessToken)).statusCode, 200, 'refreshed token refused after sync');
      // A JWT stays valid until its exp; an opaque handle is replaced by the refresh.
      if (appMode === 'opaque') expectTokenRefused(await me(a, again.accessToken), 'token_expired');
      else assert.equal((await me(a, again.accessToken)).statusCode, 200, 'the earlier token refused after sync');
    }));

  test('with equal clocks, a global logout on one instance ends the session on both, and a new login works', () =>
    withTwoInstances(0, async (a, b) => {
      const s = await a.signUp();
      b.clock.advance(10);
      a.clock.advance(10);
      assert.equal((await logoutEverywhere(b, s.accessToken)).statusCode, 204);
      await internals(a.app.tokenstile).syncRevocations();
      expectTokenRefused(await me(a, s.accessToken), 'session_revoked');
      a.clock.advance(10);
      const login = await a.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.user.email, password: goodPassword } });
      assert.equal((await me(a, (login.json() as TokenBody).accessToken)).statusCode, 200);
    }));
});
