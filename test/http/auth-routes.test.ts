import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appMode, bearer, goodPassword, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';
import { internals } from '../../src/core/core-internals.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const post = (url: string, payload?: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload, headers });
const me = (token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });
const refresh = (refreshToken: string) => post('/auth/refresh', { refreshToken });
const login = (email: string, password: string, headers: Record<string, string> = {}) => post('/auth/login', { email, password }, headers);

/** A second session of the same user. */
async function loginAgain(s: TokenBody, password = goodPassword, headers: Record<string, string> = {}): Promise<TokenBody> {
  const res = await login(s.user.email, password, headers);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

describe('POST /auth/register', () => {
  test('creates an account: 201 {user} with id, email and a null name when none is given', async () => {
    const email = uniqueEmail();
    const res = await post('/auth/register', { email, password: goodPassword });
    assert.equal(res.statusCode, 201, res.body);
    const { user } = res.json();
    assert.deepEqual(Object.keys(res.json()), ['user']);
    assert.deepEqual(Object.keys(user).sort(), ['email', 'emailVerified', 'id', 'name']);
    assert.equal(typeof user.id, 'string');
    assert.ok(user.id.length > 0);
    assert.equal(user.email, email);
    assert.equal(user.name, null);
    assert.equal(user.emailVerified, false, "a new account has not verified its email");
  });

  test('keeps the optional name', async () => {
    const res = await post('/auth/register', { email: uniqueEmail(), password: goodPassword, name: 'Ada Lovelace' });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().user.name, 'Ada Lovelace');
  });

  test('normalizes the email to lower case, so any casing logs in', async () => {
    const local = `Mixed.Case.${Date.now()}`;
    const res = await post('/auth/register', { email: `  ${local}@Example.COM `, password: goodPassword });
    assert.equal(res.statusCode, 201, res.body);
    const email = `${local}@example.com`.toLowerCase();
    assert.equal(res.json().user.email, email);
    assert.equal((await login(email, goodPassword)).statusCode, 200);
    assert.equal((await login(`${local.toUpperCase()}@EXAMPLE.com`, goodPassword)).statusCode, 200);
  });

  test('answers 409 email_taken for an email already registered, whatever its case', async () => {
    const email = uniqueEmail();
    assert.equal((await post('/auth/register', { email, password: goodPassword })).statusCode, 201);
    expectProblem(await post('/auth/register', { email, password: 'another pass 9' }), 409, 'email_taken');
    expectProblem(await post('/auth/register', { email: email.toUpperCase(), password: goodPassword }), 409, 'email_taken');
  });

  test('of two racing registrations with one email, exactly one wins', async () => {
    const email = uniqueEmail();
    const results = await Promise.all([1, 2, 3].map(() => post('/auth/register', { email, password: goodPassword })));
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [201, 409, 409]);
  });

  const weak: Array<[string, string]> = [
    ['shorter than 8 characters', 'ab1!xyz'],
    ['all letters', 'abcdefghijklmnop'],
    ['all digits', '12345678901234'],
    ['longer than 256 characters', 'a1'.repeat(128) + 'b'],
    ['of 5000 characters (the schema does not cut it short: the policy answers)', 'a1'.repeat(2500)],
  ];
  for (const [rule, password] of weak) {
    test(`refuses a password ${rule} with 400 weak_password`, async () => {
      const email = uniqueEmail();
      expectProblem(await post('/auth/register', { email, password }), 400, 'weak_password');
      // Nothing was created: the email is still free.
      assert.equal((await post('/auth/register', { email, password: goodPassword })).statusCode, 201);
    });
  }

  test('accepts passwords at the policy bounds (8 and 256 characters)', async () => {
    assert.equal((await post('/auth/register', { email: uniqueEmail(), password: 'abcdefg1' })).statusCode, 201);
    assert.equal((await post('/auth/register', { email: uniqueEmail(), password: 'a1'.repeat(128) })).statusCode, 201);
  });

  for (const email of ['not-an-email', 'a@b', 'a b@example.com', '@example.com', 'user@', '']) {
    test(`refuses the email ${JSON.stringify(email)} with 400 invalid_request`, async () => {
      expectProblem(await post('/auth/register', { email, password: goodPassword }), 400, 'invalid_request');
    });
  }
});

describe('POST /auth/login', () => {
  test('answers 200 with a complete, uncacheable TokenResponse', async () => {
    const email = uniqueEmail();
    await post('/auth/register', { email, password: goodPassword, name: 'Grace' });
    const res = await login(email, goodPassword);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['accessToken', 'expiresIn', 'refreshExpiresIn', 'refreshToken', 'session', 'tokenType', 'user']);
    assert.equal(body.tokenType, 'Bearer');
    assert.equal(typeof body.accessToken, 'string');
    if (appMode === 'opaque') assert.match(body.accessToken, /^tsa_[A-Za-z0-9_-]{100,}$/);
    else assert.equal(body.accessToken.split('.').length, 3);
    assert.equal(body.expiresIn, 900);
    assert.equal(typeof body.refreshToken, 'string');
    assert.ok(body.refreshToken.length >= 43, 'at least 256 bits of base64url');
    assert.notEqual(body.refreshToken, body.accessToken);
    assert.equal(body.refreshExpiresIn, 604800);
    assert.equal(typeof body.session.id, 'string');
    assert.ok(body.session.id.length > 0);
    assert.deepEqual(Object.keys(body.user).sort(), ['email', 'emailVerified', 'id', 'name']);
    assert.equal(body.user.email, email);
    assert.equal(body.user.name, 'Grace');
    const who = await me(body.accessToken);
    assert.equal(who.statusCode, 200);
    assert.equal(who.json().sessionId, body.session.id);
    assert.equal(who.json().id, body.user.id);
  });

  test('answers an unknown email and a wrong password with the same 401 invalid_credentials', async () => {
    const s = await t.signUp();
    const unknown = await login(uniqueEmail(), goodPassword);
    const wrong = await login(s.user.email, 'wrong password 1');
    expectProblem(unknown, 401, 'invalid_credentials');
    expectProblem(wrong, 401, 'invalid_credentials');
    assert.equal(unknown.body, wrong.body);
    assert.equal(unknown.headers['www-authenticate'], wrong.headers['www-authenticate']);
  });
});

describe('POST /auth/refresh', () => {
  test('rotates: a new refresh token, a working access token, the same session, and the old token spent', async () => {
    const s = await t.signUp();
    const res = await refresh(s.refreshToken);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const next = res.json() as TokenBody;
    assert.equal(next.tokenType, 'Bearer');
    assert.notEqual(next.refreshToken, s.refreshToken);
    assert.notEqual(next.accessToken, s.accessToken);
    assert.equal(next.session.id, s.session.id);
    assert.equal(next.user.id, s.user.id);
    assert.equal(next.expiresIn, 900);
    assert.equal((await me(next.accessToken)).statusCode, 200);
    // Past the grace window the old token is refused (as a replay).
    t.clock.advance(11_000);
    expectProblem(await refresh(s.refreshToken), 401, 'refresh_token_reused');
  });
});

describe('refresh tokens at rest', () => {
  test('the store keeps neither the refresh token nor its secret, only a hash', async () => {
    const s = await t.signUp();
    const next = (await refresh(s.refreshToken)).json() as TokenBody;
    const stored = JSON.stringify(await internals(t.app.tokenstile).stores.sessions.get(s.session.id));
    assert.ok(stored.length > 2);
    for (const token of [s.refreshToken, next.refreshToken]) {
      const raw = Buffer.from(token.replace(/^[a-z]+_/, ''), 'base64url');
      // Any 32-byte window of the token's bytes (the secret is one of them) must be absent.
      for (let i = 0; i + 32 <= raw.length; i++) {
        const window = raw.subarray(i, i + 32);
        assert.ok(!stored.includes(window.toString('base64url')) && !stored.includes(window.toString('hex')), 'secret stored in the clear');
      }
      assert.ok(!stored.includes(token));
    }
  });
});

describe('POST /auth/logout', () => {
  test('with no body at all ends only this session (scope local)', async () => {
    const a = await t.signUp();
    const b = await loginAgain(a);
    const res = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.accessToken) });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');
    expectTokenRefused(await me(a.accessToken), 'session_revoked');
    assert.equal((await me(b.accessToken)).statusCode, 200);
  });

  test('scope local ends this session only', async () => {
    const a = await t.signUp();
    const b = await loginAgain(a);
    assert.equal((await post('/auth/logout', { scope: 'local' }, bearer(a.accessToken))).statusCode, 204);
    expectTokenRefused(await me(a.accessToken), 'session_revoked');
    assert.equal((await me(b.accessToken)).statusCode, 200);
  });

  test('scope global ends every session of the user, and no one else\'s', async () => {
    const a = await t.signUp();
    const b = await loginAgain(a);
    const stranger = await t.signUp();
    assert.equal((await post('/auth/logout', { scope: 'global' }, bearer(a.accessToken))).statusCode, 204);
    expectTokenRefused(await me(a.accessToken), 'session_revoked');
    expectTokenRefused(await me(b.accessToken), 'session_revoked');
    assert.equal((await me(stranger.accessToken)).statusCode, 200);
    // A login afterwards starts a session that works, even within the same millisecond.
    const fresh = await loginAgain(a);
    assert.equal((await me(fresh.accessToken)).statusCode, 200);
  });

  test('scope others ends every session but this one', async () => {
    const a = await t.signUp();
    const b = await loginAgain(a);
    assert.equal((await post('/auth/logout', { scope: 'others' }, bearer(a.accessToken))).statusCode, 204);
    assert.equal((await me(a.accessToken)).statusCode, 200);
    expectTokenRefused(await me(b.accessToken), 'session_revoked');
  });

  test('refuses an unknown scope with 400 and ends nothing', async () => {
    const a = await t.signUp();
    expectProblem(await post('/auth/logout', { scope: 'everywhere' }, bearer(a.accessToken)), 400, 'invalid_request');
    assert.equal((await me(a.accessToken)).statusCode, 200);
  });

  test('requires an access token', async () => {
    expectProblem(await post('/auth/logout', {}), 401, 'invalid_token');
  });
});
