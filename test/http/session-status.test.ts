// GET /auth/refresh/status: "am I signed in?" answered 200 either way (so that a signed-out page
// logs no error), for Bearer and cookie callers, without spending or changing anything.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

const accessName = '__Host-tokenstile-access';
const refreshName = '__Secure-tokenstile-refresh';

let t: TestApp;
before(async () => {
  t = await testApp({ accessTokenTtl: '60s' });
});
after(() => t.close());

const status = (headers: Record<string, string> = {}, cookies: Record<string, string> = {}) => t.app.inject({ method: 'GET', url: '/auth/refresh/status', headers, cookies });

function body(res: LightMyRequestResponse): { signedIn: boolean; refreshable: boolean; sessionId: string | null; reason: string | null } {
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  return res.json();
}

const expired = (res: LightMyRequestResponse) => res.cookies.filter((c) => c.maxAge === 0).map((c) => c.name).sort();

async function cookieLogin(): Promise<{ access: string; refresh: string; sessionId: string }> {
  const email = uniqueEmail();
  await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  const res = await t.app.inject({ method: 'POST', url: '/auth/login', headers: { 'tokenstile-transport': 'cookie' }, payload: { email, password: goodPassword } });
  assert.equal(res.statusCode, 200, res.body);
  const value = (name: string) => res.cookies.find((c) => c.name === name)!.value;
  return { access: value(accessName), refresh: value(refreshName), sessionId: res.json().session.id };
}

describe('GET /auth/refresh/status', () => {
  test('nothing sent: 200 not signed in, reason no_session, and no cookie is touched', async () => {
    const res = await status();
    assert.deepEqual(body(res), { signedIn: false, refreshable: false, sessionId: null, reason: 'no_session' });
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('a valid Bearer token or access cookie: signed in, with the session id', async () => {
    const s = await t.signUp();
    assert.deepEqual(body(await status(bearer(s.accessToken))), { signedIn: true, refreshable: false, sessionId: s.session.id, reason: null });
    const c = await cookieLogin();
    assert.deepEqual(body(await status({}, { [accessName]: c.access, [refreshName]: c.refresh })), { signedIn: true, refreshable: false, sessionId: c.sessionId, reason: null });
  });

  test('a bad or expired Bearer token is a 200 that says why, not a 401', async () => {
    assert.deepEqual(body(await status(bearer('not.a.token'))), { signedIn: false, refreshable: false, sessionId: null, reason: 'invalid_token' });
    assert.equal(body(await status({ authorization: 'Basic abc' })).reason, 'invalid_token');
    const s = await t.signUp();
    t.clock.advance(120_000);
    assert.equal(body(await status(bearer(s.accessToken))).reason, 'token_expired');
  });

  test('only the refresh cookie (the access cookie expired): refreshable, and the refresh token is not spent', async () => {
    const c = await cookieLogin();
    assert.deepEqual(body(await status({}, { [refreshName]: c.refresh })), { signedIn: false, refreshable: true, sessionId: c.sessionId, reason: null });
    t.clock.advance(120_000);
    assert.equal(body(await status({}, { [accessName]: c.access, [refreshName]: c.refresh })).refreshable, true, 'an expired access cookie and a live refresh cookie');
    const csrf = internals(t.app.tokenstile).csrf.tokenFor(c.sessionId);
    const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', cookies: { [refreshName]: c.refresh }, headers: { 'x-csrf-token': csrf } });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
  });

  test('an ended session: not refreshable, reason given, and both cookies expired', async () => {
    const c = await cookieLogin();
    await t.app.tokenstile.revoke({ sessionId: c.sessionId });
    const withAccess = await status({}, { [accessName]: c.access, [refreshName]: c.refresh });
    assert.deepEqual(body(withAccess), { signedIn: false, refreshable: false, sessionId: null, reason: 'session_revoked' });
    assert.deepEqual(expired(withAccess), [refreshName, accessName].sort());
    const refreshOnly = await status({}, { [refreshName]: c.refresh });
    assert.deepEqual(body(refreshOnly), { signedIn: false, refreshable: false, sessionId: null, reason: 'invalid_refresh_token' });
    assert.deepEqual(expired(refreshOnly), [refreshName, accessName].sort());
    assert.equal(body(await status({}, { [refreshName]: 'tsr_garbage' })).reason, 'invalid_refresh_token');
  });
});
