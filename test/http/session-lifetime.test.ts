import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serverConfigFromEnv } from '../../src/cli/env-config.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { bearer, tempDir, testApp, testBackend, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem } from './problem-assertions.ts';

const day = 86_400_000;

const refresh = (t: TestApp, refreshToken: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });

async function rotate(t: TestApp, refreshToken: string): Promise<TokenBody> {
  const res = await refresh(t, refreshToken);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

describe('absolute session lifetime', () => {
  test('a session refreshed every few days ends 30 days after sign-in (the default), with invalid_refresh_token', async () => {
    const t = await testApp();
    try {
      let s = await t.signUp();
      const start = t.clock.now();
      assert.equal(s.refreshExpiresIn, 7 * 86_400, 'a new session lives the refresh TTL');
      // Every 6 days, inside the 7-day sliding window: without a cap this would go on forever.
      for (let d = 6; d <= 24; d += 6) {
        t.clock.set(start + d * day);
        s = await rotate(t, s.refreshToken);
      }
      t.clock.set(start + 29 * day);
      s = await rotate(t, s.refreshToken);
      assert.equal(s.refreshExpiresIn, 86_400, 'the last refresh only reaches the 30-day end');
      const listed = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(s.accessToken) });
      const expiresAt = (listed.json() as { sessions: Array<{ expiresAt: string }> }).sessions[0]!.expiresAt;
      assert.equal(Date.parse(expiresAt), start + 30 * day, 'the session list shows the absolute end');
      t.clock.set(start + 30 * day + 1);
      expectProblem(await refresh(t, s.refreshToken), 401, 'invalid_refresh_token');
    } finally {
      await t.close();
    }
  });

  test('sessionMaxLifetime is configurable, and shorter than the refresh TTL caps the first expiry too', async () => {
    const t = await testApp({ sessionMaxLifetime: '1d' });
    try {
      let s = await t.signUp();
      const start = t.clock.now();
      assert.equal(s.refreshExpiresIn, 86_400);
      t.clock.set(start + 12 * 3_600_000);
      s = await rotate(t, s.refreshToken);
      assert.equal(s.refreshExpiresIn, 12 * 3600);
      t.clock.set(start + day);
      expectProblem(await refresh(t, s.refreshToken), 401, 'invalid_refresh_token');
    } finally {
      await t.close();
    }
  });

  test('a session whose stored expiry runs past a newly set limit is refused at its next refresh', async () => {
    const dir = tempDir();
    const shared = testBackend(`sqlite:${dir.path}/t.db`);
    try {
      // Signed in and refreshed under a long limit, then the server restarts with 30 days.
      const before = await testApp({ ...shared.options, refreshTokenTtl: '60d', sessionMaxLifetime: '400d' });
      let s: TokenBody;
      let start: number;
      try {
        s = await before.signUp();
        start = before.clock.now();
        before.clock.set(start + 27 * day);
        s = await rotate(before, s.refreshToken);
        assert.equal(s.refreshExpiresIn, 60 * 86_400);
      } finally {
        await before.app.close();
      }
      const after = await testApp({ ...shared.options });
      try {
        after.clock.set(start + 31 * day);
        expectProblem(await refresh(after, s.refreshToken), 401, 'invalid_refresh_token');
      } finally {
        await after.app.close();
      }
    } finally {
      await shared.cleanup();
      dir.cleanup();
    }
  });

  test('TOKENSTILE_SESSION_MAX_LIFETIME sets it, checked at start', () => {
    assert.equal(serverConfigFromEnv({}).app.sessionMaxLifetime, '30d');
    assert.equal(serverConfigFromEnv({ TOKENSTILE_SESSION_MAX_LIFETIME: '90d' }).app.sessionMaxLifetime, '90d');
    assert.equal(resolveConfig({ issuer: 'https://auth.example.com' }).sessionMaxLifetimeMs, 30 * 86_400_000);
    assert.throws(() => resolveConfig({ issuer: 'https://auth.example.com', sessionMaxLifetime: '10s' }), /sessionMaxLifetime must be between/);
    assert.throws(() => resolveConfig({ issuer: 'https://auth.example.com', sessionMaxLifetime: '2m', accessTokenTtl: '5m' }), /sessionMaxLifetime must be longer than accessTokenTtl/);
  });
});
