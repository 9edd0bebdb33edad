// A revocation must outlive every access token of its session, whatever the configuration of the
// process that wrote it: it lasts until the session's latest token expiry (kept on the session)
// plus a fixed headroom, not until "now + the writer's access TTL".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { buildApp } from '../../src/http/app.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { bearer, fastHasher, goodPassword, issuer, problemOf, tempDir } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

const minute = 60_000;

test('a revocation by a process with a shorter access TTL (the CLI on defaults) still covers the server’s 1-hour tokens, across a restart', async () => {
  const dir = tempDir();
  const databaseUrl = `sqlite:${dir.path}/t.db`;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const serverOptions = { issuer, databaseUrl, clock, passwordHasher: fastHasher, docs: false, accessTokenTtl: '1h', refreshTokenTtl: '7d' } as const;
  let app = buildApp(serverOptions);
  try {
    await app.ready();
    const email = 'long@example.com';
    await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    const { accessToken, user } = (await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).json();

    // Another process on the same database, with the default 15-minute access TTL, ends the session.
    const cliStores = openSqliteStores(`${dir.path}/t.db`);
    const cli = await createTokenstile({ stores: cliStores, issuer, clock, passwordHasher: fastHasher });
    const [revocation] = await cli.revoke({ userId: user.id });
    await cli.close();
    await cliStores.close();
    assert.ok(revocation);
    assert.ok(revocation.expiresAt >= clock.now() + 60 * minute, 'the entry lasts at least as long as the 1-hour token');

    await internals(app.tokenstile).syncRevocations();
    assert.equal(problemOf(await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })).code, 'session_revoked');

    // 30 minutes on (well past 15 min + headroom), the server restarts: the token is still refused.
    clock.advance(30 * minute);
    await app.close();
    app = buildApp(serverOptions);
    await app.ready();
    assert.equal(problemOf(await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })).code, 'session_revoked');
    await app.tokenstile.purge(); // housekeeping must not drop the entry early either
    assert.equal(problemOf(await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) })).code, 'session_revoked');
  } finally {
    await app.close();
    dir.cleanup();
  }
});

test('logout still ends a session whose refresh lifetime ran out while a grace-issued access token lives on', async () => {
  // access 100 s, sliding session 105 s, grace 10 s: a grace retry at +9 s mints a token valid to
  // +109 s, past the session's +105 s.
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const app = buildApp({ issuer, databaseUrl: 'sqlite::memory:', clock, passwordHasher: fastHasher, docs: false, accessTokenTtl: 100, refreshTokenTtl: 105, refreshGrace: '10s', clockTolerance: 0 });
  try {
    await app.ready();
    const email = 'grace@example.com';
    await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    const login = (await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).json();
    const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: login.refreshToken } });
    assert.equal(refreshed.statusCode, 200);
    clock.advance(9_000);
    const retry = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: login.refreshToken } });
    assert.equal(retry.statusCode, 200);
    const late = retry.json().accessToken as string;
    clock.advance(97_000); // +106 s: the session has expired, the grace token has 3 s left
    assert.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(late) })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(late) })).statusCode, 204);
    assert.equal(problemOf(await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(late) })).code, 'session_revoked');
  } finally {
    await app.close();
  }
});
