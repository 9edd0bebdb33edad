import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, goodPassword, testApp, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: object) =>
  t.app.inject({ method, url, headers: bearer(token), payload });
const me = (token: string) => inject('GET', '/auth/me', token);
const refresh = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
const login = (email: string, password: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, headers });
const changePassword = (token: string, currentPassword: string, newPassword: string) =>
  inject('POST', '/auth/password', token, { currentPassword, newPassword });

async function loginAgain(s: TokenBody, headers: Record<string, string> = {}): Promise<TokenBody> {
  const res = await login(s.user.email, goodPassword, headers);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

describe('GET and PATCH /auth/me', () => {
  test('GET answers the caller: id, email, name and session id', async () => {
    const s = await t.signUp();
    const res = await me(s.accessToken);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { id: s.user.id, email: s.user.email, name: null, emailVerified: false, sessionId: s.session.id });
  });

  test('GET without a token is 401 invalid_token', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/auth/me' }), 401, 'invalid_token');
  });

  test('PATCH changes the name, and GET sees the change at once', async () => {
    const s = await t.signUp();
    const res = await inject('PATCH', '/auth/me', s.accessToken, { name: '  Katherine Johnson ' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { id: s.user.id, email: s.user.email, name: 'Katherine Johnson', emailVerified: false, sessionId: s.session.id });
    assert.equal((await me(s.accessToken)).json().name, 'Katherine Johnson');
    // Another session of the user sees it too, as does the next login.
    const other = await loginAgain(s);
    assert.equal(other.user.name, 'Katherine Johnson');
    assert.equal((await me(other.accessToken)).json().name, 'Katherine Johnson');
  });

  test('PATCH with a null name clears it', async () => {
    const s = await t.signUp();
    await inject('PATCH', '/auth/me', s.accessToken, { name: 'Temp' });
    const res = await inject('PATCH', '/auth/me', s.accessToken, { name: null });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().name, null);
    assert.equal((await me(s.accessToken)).json().name, null);
  });

  test('PATCH refuses a name over 100 characters, a missing name and an email change', async () => {
    const s = await t.signUp();
    expectProblem(await inject('PATCH', '/auth/me', s.accessToken, { name: 'x'.repeat(101) }), 400, 'invalid_request');
    expectProblem(await inject('PATCH', '/auth/me', s.accessToken, {}), 400, 'invalid_request');
    expectProblem(await inject('PATCH', '/auth/me', s.accessToken, { name: 'ok', email: 'evil@example.com' }), 400, 'invalid_request');
    assert.deepEqual((await me(s.accessToken)).json(), { id: s.user.id, email: s.user.email, name: null, emailVerified: false, sessionId: s.session.id });
  });
});

describe('POST /auth/password', () => {
  test('204; other sessions end at once, the caller\'s goes on, and only the new password logs in', async () => {
    const mine = await t.signUp();
    const other = await loginAgain(mine);
    const third = await loginAgain(mine);
    const newPassword = 'brand new pass 7';
    const res = await changePassword(mine.accessToken, goodPassword, newPassword);
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');

    expectTokenRefused(await me(other.accessToken), 'session_revoked');
    expectTokenRefused(await me(third.accessToken), 'session_revoked');
    expectProblem(await refresh(other.refreshToken), 401, 'invalid_refresh_token');
    expectProblem(await refresh(third.refreshToken), 401, 'invalid_refresh_token');

    assert.equal((await me(mine.accessToken)).statusCode, 200);
    const rotated = await refresh(mine.refreshToken);
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.equal((await me(rotated.json().accessToken)).statusCode, 200);

    expectProblem(await login(mine.user.email, goodPassword), 401, 'invalid_credentials');
    const fresh = await login(mine.user.email, newPassword);
    assert.equal(fresh.statusCode, 200, fresh.body);
    assert.equal((await me(fresh.json().accessToken)).statusCode, 200);
  });

  test('a wrong current password is 401 invalid_credentials and changes nothing', async () => {
    const mine = await t.signUp();
    const other = await loginAgain(mine);
    expectProblem(await changePassword(mine.accessToken, 'not my password 1', 'brand new pass 7'), 401, 'invalid_credentials');
    assert.equal((await me(other.accessToken)).statusCode, 200);
    assert.equal((await login(mine.user.email, goodPassword)).statusCode, 200);
    assert.equal((await login(mine.user.email, 'brand new pass 7')).statusCode, 401);
  });

  test('a weak new password is 400 weak_password and changes nothing', async () => {
    const mine = await t.signUp();
    const other = await loginAgain(mine);
    expectProblem(await changePassword(mine.accessToken, goodPassword, 'short'), 400, 'weak_password');
    expectProblem(await changePassword(mine.accessToken, goodPassword, 'onlyletters'), 400, 'weak_password');
    assert.equal((await me(other.accessToken)).statusCode, 200);
    assert.equal((await login(mine.user.email, goodPassword)).statusCode, 200);
  });

  test('requires both fields and an access token', async () => {
    const mine = await t.signUp();
    expectProblem(await inject('POST', '/auth/password', mine.accessToken, { newPassword: 'brand new pass 7' }), 400, 'invalid_request');
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/password', payload: { currentPassword: goodPassword, newPassword: 'brand new pass 7' } }),
      401,
      'invalid_token',
    );
    assert.equal((await login(mine.user.email, goodPassword)).statusCode, 200);
  });
});

describe('GET /auth/sessions', () => {
  test('lists the caller\'s live sessions with their fields, device and the current flag', async () => {
    const first = await t.signUp(undefined, undefined, { 'user-agent': 'Phone/1.0' });
    const second = await loginAgain(first, { 'user-agent': 'Laptop/2.0' });
    const stranger = await t.signUp();
    const res = await inject('GET', '/auth/sessions', second.accessToken);
    assert.equal(res.statusCode, 200, res.body);
    const { sessions } = res.json() as { sessions: Array<Record<string, unknown>> };
    assert.equal(sessions.length, 2);
    assert.deepEqual(sessions.map((s) => s.id).sort(), [first.session.id, second.session.id].sort());
    assert.ok(!sessions.some((s) => s.id === stranger.session.id));
    for (const s of sessions) {
      assert.deepEqual(Object.keys(s).sort(), ['createdAt', 'current', 'expiresAt', 'id', 'ip', 'lastUsedAt', 'userAgent']);
      for (const field of ['createdAt', 'lastUsedAt', 'expiresAt'] as const) {
        assert.equal(typeof s[field], 'string');
        assert.equal(new Date(s[field] as string).toISOString(), s[field]);
      }
      assert.equal(Date.parse(s.expiresAt as string) - Date.parse(s.lastUsedAt as string), 7 * 86400 * 1000);
      assert.equal(s.ip, '127.0.0.1');
    }
    const byId = new Map(sessions.map((s) => [s.id, s]));
    assert.equal(byId.get(second.session.id)?.current, true);
    assert.equal(byId.get(second.session.id)?.userAgent, 'Laptop/2.0');
    assert.equal(byId.get(first.session.id)?.current, false);
    assert.equal(byId.get(first.session.id)?.userAgent, 'Phone/1.0');
  });

  test('records the peer address, not a spoofable X-Forwarded-For (no trustProxy by default)', async () => {
    const s = await t.signUp(undefined, undefined, { 'x-forwarded-for': '203.0.113.9' });
    const { sessions } = (await inject('GET', '/auth/sessions', s.accessToken)).json() as { sessions: Array<{ ip: string }> };
    assert.deepEqual(sessions.map((x) => x.ip), ['127.0.0.1']);
  });

  test('an ended session is no longer listed', async () => {
    const first = await t.signUp();
    const second = await loginAgain(first);
    await inject('POST', '/auth/logout', first.accessToken, { scope: 'local' });
    const { sessions } = (await inject('GET', '/auth/sessions', second.accessToken)).json() as { sessions: Array<{ id: string }> };
    assert.deepEqual(sessions.map((s) => s.id), [second.session.id]);
  });
});

describe('DELETE /auth/sessions/:id', () => {
  test('204 ends one of the caller\'s other sessions at once', async () => {
    const first = await t.signUp();
    const second = await loginAgain(first);
    const res = await inject('DELETE', `/auth/sessions/${first.session.id}`, second.accessToken);
    assert.equal(res.statusCode, 204, res.body);
    expectTokenRefused(await me(first.accessToken), 'session_revoked');
    expectProblem(await refresh(first.refreshToken), 401, 'invalid_refresh_token');
    assert.equal((await me(second.accessToken)).statusCode, 200);
  });

  test('404 for someone else\'s session, which keeps working', async () => {
    const mine = await t.signUp();
    const theirs = await t.signUp();
    expectProblem(await inject('DELETE', `/auth/sessions/${theirs.session.id}`, mine.accessToken), 404, 'not_found');
    assert.equal((await me(theirs.accessToken)).statusCode, 200);
    assert.equal((await refresh(theirs.refreshToken)).statusCode, 200);
  });

  test('404 for a garbage id and for an id that does not exist', async () => {
    const mine = await t.signUp();
    for (const id of ['garbage', '12345', 'not-a-uuid-at-all', '01890000-0000-7000-8000-000000000000']) {
      expectProblem(await inject('DELETE', `/auth/sessions/${id}`, mine.accessToken), 404, 'not_found');
    }
    assert.equal((await me(mine.accessToken)).statusCode, 200);
  });

  test('404 (not 400) for a garbage id longer than 64 characters: it is not one of the caller\'s sessions', async () => {
    const mine = await t.signUp();
    expectProblem(await inject('DELETE', `/auth/sessions/${'x'.repeat(100)}`, mine.accessToken), 404, 'not_found');
  });

  test('404 for a session already ended', async () => {
    const first = await t.signUp();
    const second = await loginAgain(first);
    assert.equal((await inject('DELETE', `/auth/sessions/${first.session.id}`, second.accessToken)).statusCode, 204);
    expectProblem(await inject('DELETE', `/auth/sessions/${first.session.id}`, second.accessToken), 404, 'not_found');
  });
});
