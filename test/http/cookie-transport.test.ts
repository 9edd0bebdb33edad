// The cookie transport for browsers (CONTRACT.md "Cookie transport"), over app.inject: cookie
// attributes, CSRF and origin checks, refresh rotation with the grace window, logout that both
// revokes and expires the cookies, and login-CSRF.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, goodPassword, issuer, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';

const accessName = '__Host-tokenstile-access';
const refreshName = '__Secure-tokenstile-refresh';
const cookieMode = { 'tokenstile-transport': 'cookie' };

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

interface BrowserLogin {
  email: string;
  access: string;
  refresh: string;
  csrf: string;
  sessionId: string;
  userId: string;
  res: LightMyRequestResponse;
}

/** The raw Set-Cookie line for `name`. */
function setCookieLine(res: LightMyRequestResponse, name: string): string {
  const lines = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const line = lines.find((l) => l.startsWith(`${name}=`));
  assert.ok(line, `no Set-Cookie for ${name} in ${JSON.stringify(lines)}`);
  return line;
}

function cookieValue(res: LightMyRequestResponse, name: string): string {
  const c = res.cookies.find((x) => x.name === name);
  assert.ok(c, `no cookie ${name}`);
  return c.value;
}

async function register(email = uniqueEmail()): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  assert.equal(res.statusCode, 201, res.body);
  return email;
}

async function browserLogin(email?: string, headers: Record<string, string> = {}): Promise<BrowserLogin> {
  const address = email ?? (await register());
  const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: address, password: goodPassword }, headers: { ...cookieMode, ...headers } });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  return { email: address, access: cookieValue(res, accessName), refresh: cookieValue(res, refreshName), csrf: body.csrfToken, sessionId: body.session.id, userId: body.user.id, res };
}

const withAccess = (s: { access: string }) => ({ [accessName]: s.access });
const patchName = (s: BrowserLogin, headers: Record<string, string>, name = 'Grace') =>
  t.app.inject({ method: 'PATCH', url: '/auth/me', cookies: withAccess(s), headers, payload: { name } });
const me = (access: string) => t.app.inject({ method: 'GET', url: '/auth/me', cookies: { [accessName]: access } });
const refreshByCookie = (refresh: string, headers: Record<string, string>) =>
  t.app.inject({ method: 'POST', url: '/auth/refresh', cookies: { [refreshName]: refresh }, headers });

describe('login with Tokenstile-Transport: cookie', () => {
  test('sets HttpOnly Secure cookies with the token lifetimes, and the body carries no token', async () => {
    const s = await browserLogin();
    const body = s.res.json();
    assert.deepEqual(Object.keys(body).sort(), ['csrfToken', 'expiresIn', 'session', 'user']);
    assert.equal(body.expiresIn, 900);
    assert.equal(body.user.email, s.email);
    assert.ok(!s.res.body.includes(s.access) && !s.res.body.includes(s.refresh), 'a token is in the body');
    assert.match(s.csrf, /^[A-Za-z0-9_-]{43}$/);

    const access = setCookieLine(s.res, accessName);
    for (const attr of ['Max-Age=900', 'Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax']) assert.ok(access.split('; ').includes(attr), `${attr} missing: ${access}`);
    assert.ok(!/domain=/i.test(access), access);
    const refresh = setCookieLine(s.res, refreshName);
    for (const attr of [`Max-Age=${7 * 86400}`, 'Path=/auth/refresh', 'HttpOnly', 'Secure', 'SameSite=Strict']) assert.ok(refresh.split('; ').includes(attr), `${attr} missing: ${refresh}`);
    assert.match(s.refresh, /^tsr_/);
  });

  test('the same server keeps answering header clients with tokens in the body and no cookie', async () => {
    const email = await register();
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['set-cookie'], undefined);
    const body = res.json();
    assert.equal(body.tokenType, 'Bearer');
    assert.equal((await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(body.accessToken), payload: { name: 'Header' } })).statusCode, 200);
  });

  test('the access cookie authenticates reads without any CSRF token', async () => {
    const s = await browserLogin();
    const res = await me(s.access);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().sessionId, s.sessionId);
    assert.equal((await t.app.inject({ method: 'GET', url: '/auth/sessions', cookies: withAccess(s) })).statusCode, 200);
  });

  test('an unknown transport value means the header transport', async () => {
    const email = await register();
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { 'tokenstile-transport': 'carrier-pigeon' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().tokenType, 'Bearer');
  });
});

describe('CSRF on cookie-authenticated state changes', () => {
  test('PATCH /auth/me needs the session\'s X-CSRF-Token: none or a wrong one is 403 csrf_failed', async () => {
    const s = await browserLogin();
    const other = await browserLogin();
    expectProblem(await patchName(s, {}), 403, 'csrf_failed');
    expectProblem(await patchName(s, { 'x-csrf-token': other.csrf }), 403, 'csrf_failed');
    expectProblem(await patchName(s, { 'x-csrf-token': s.csrf.slice(0, -1) }), 403, 'csrf_failed');
    expectProblem(await patchName(s, { 'x-csrf-token': '' }), 403, 'csrf_failed');
    assert.equal((await me(s.access)).json().name, null, 'a refused request changed the name');
    const ok = await patchName(s, { 'x-csrf-token': s.csrf });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().name, 'Grace');
  });

  test('a foreign or "null" Origin is refused even with the right token; the issuer\'s and the request\'s own origin pass', async () => {
    const s = await browserLogin();
    const csrf = { 'x-csrf-token': s.csrf };
    expectProblem(await patchName(s, { ...csrf, origin: 'https://evil.example' }), 403, 'csrf_failed');
    // Another port on the same host is same-site but not same-origin: refused.
    expectProblem(await patchName(s, { ...csrf, origin: 'http://127.0.0.1:3001' }), 403, 'csrf_failed');
    expectProblem(await patchName(s, { ...csrf, origin: 'null' }), 403, 'csrf_failed');
    expectProblem(await patchName(s, { ...csrf, 'sec-fetch-site': 'cross-site' }), 403, 'csrf_failed');
    expectProblem(await patchName(s, { ...csrf, 'sec-fetch-site': 'same-site' }), 403, 'csrf_failed');
    assert.equal((await patchName(s, { ...csrf, origin: new URL(issuer).origin })).statusCode, 200);
    assert.equal((await patchName(s, { ...csrf, host: 'auth.internal:8080', origin: 'http://auth.internal:8080' })).statusCode, 200);
    assert.equal((await patchName(s, { ...csrf, 'sec-fetch-site': 'same-origin' })).statusCode, 200);
  });

  test('logout, password change and ending a session are refused without the token, and nothing changes', async () => {
    const s = await browserLogin();
    const second = await browserLogin(s.email);
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/logout', cookies: withAccess(s), payload: { scope: 'global' } }), 403, 'csrf_failed');
    expectProblem(
      await t.app.inject({ method: 'POST', url: '/auth/password', cookies: withAccess(s), payload: { currentPassword: goodPassword, newPassword: 'another pass 99' } }),
      403,
      'csrf_failed',
    );
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${second.sessionId}`, cookies: withAccess(s) }), 403, 'csrf_failed');
    assert.equal((await me(s.access)).statusCode, 200);
    assert.equal((await me(second.access)).statusCode, 200);
    // The old password still works.
    await browserLogin(s.email);
  });

  test('a Bearer header wins over the cookie, and needs no CSRF token', async () => {
    const email = await register();
    const header = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).json();
    const cookieSession = await browserLogin();
    const res = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(header.accessToken), cookies: withAccess(cookieSession), payload: { name: 'Bearer wins' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, header.user.id);
    assert.equal((await me(cookieSession.access)).json().name, null);
    // A bad Authorization header is not rescued by a good cookie.
    expectTokenRefused(await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer('not-a-token'), cookies: withAccess(cookieSession) }), 'invalid_token');
  });
});

describe('POST /auth/refresh with the refresh cookie', () => {
  test('without the CSRF header it is refused and the refresh token is not spent', async () => {
    const s = await browserLogin();
    expectProblem(await refreshByCookie(s.refresh, {}), 403, 'csrf_failed');
    expectProblem(await refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf, origin: 'https://evil.example' }), 403, 'csrf_failed');
    const res = await refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf });
    assert.equal(res.statusCode, 200, res.body);
  });

  test('rotates: new cookies with fresh lifetimes, the same CSRF token, no token in the body', async () => {
    const s = await browserLogin();
    t.clock.advance(60_000);
    const res = await refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['csrfToken', 'expiresIn', 'session', 'user']);
    assert.equal(body.csrfToken, s.csrf);
    assert.equal(body.session.id, s.sessionId);
    const access = cookieValue(res, accessName);
    const refresh = cookieValue(res, refreshName);
    assert.notEqual(access, s.access);
    assert.notEqual(refresh, s.refresh);
    assert.ok(!res.body.includes(access) && !res.body.includes(refresh));
    assert.ok(setCookieLine(res, refreshName).includes('Path=/auth/refresh'));
    assert.equal((await me(access)).statusCode, 200);
  });

  test('a retry with the just-spent cookie within the grace window gets the same successor (several tabs)', async () => {
    const s = await browserLogin();
    const [a, b] = await Promise.all([refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf }), refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf })]);
    assert.equal(a.statusCode, 200, a.body);
    assert.equal(b.statusCode, 200, b.body);
    assert.equal(cookieValue(a, refreshName), cookieValue(b, refreshName));
    t.clock.advance(5_000);
    const late = await refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf });
    assert.equal(late.statusCode, 200, late.body);
    assert.equal(cookieValue(late, refreshName), cookieValue(a, refreshName));
  });

  test('a spent cookie replayed after the grace window revokes the session and expires the cookies', async () => {
    const s = await browserLogin();
    const first = await refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf });
    assert.equal(first.statusCode, 200);
    t.clock.advance(11_000);
    const replay = await refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf });
    expectProblem(replay, 401, 'refresh_token_reused');
    assert.ok(setCookieLine(replay, accessName).includes('Max-Age=0'));
    assert.ok(setCookieLine(replay, refreshName).includes('Max-Age=0'));
    expectTokenRefused(await me(cookieValue(first, accessName)), 'session_revoked');
  });

  test('a body token still selects the header transport; no cookie and no body is 400', async () => {
    const email = await register();
    const tokens = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).json();
    const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: tokens.refreshToken } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().tokenType, 'Bearer');
    assert.equal(res.headers['set-cookie'], undefined);
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/refresh', headers: { 'content-type': 'application/json' }, payload: '{}' }), 400, 'invalid_request');
  });
});

describe('logout in cookie mode', () => {
  test('revokes the session server-side and expires both cookies; copies taken before are refused', async () => {
    const s = await browserLogin();
    const res = await t.app.inject({ method: 'POST', url: '/auth/logout', cookies: withAccess(s), headers: { 'x-csrf-token': s.csrf } });
    assert.equal(res.statusCode, 204, res.body);
    const access = setCookieLine(res, accessName);
    const refresh = setCookieLine(res, refreshName);
    assert.match(access, new RegExp(`^${accessName}=;`));
    assert.ok(access.includes('Max-Age=0') && access.includes('Path=/'));
    assert.ok(refresh.includes('Max-Age=0') && refresh.includes('Path=/auth/refresh'));
    // A copy of the cookies made before logout is worthless: the session is gone on the server.
    expectTokenRefused(await me(s.access), 'session_revoked');
    expectProblem(await refreshByCookie(s.refresh, { 'x-csrf-token': s.csrf }), 401, 'invalid_refresh_token');
  });

  test('"others" ends the other sessions and keeps this device\'s cookies', async () => {
    const s = await browserLogin();
    const other = await browserLogin(s.email);
    const res = await t.app.inject({ method: 'POST', url: '/auth/logout', cookies: withAccess(s), headers: { 'x-csrf-token': s.csrf }, payload: { scope: 'others' } });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal((await me(s.access)).statusCode, 200);
    const refused = await me(other.access);
    expectTokenRefused(refused, 'session_revoked');
    // The browser is told to drop the dead session's cookies.
    assert.ok(setCookieLine(refused, accessName).includes('Max-Age=0'));
  });
});

describe('login-CSRF', () => {
  test('a cookie-transport login from another origin is refused and sets no cookie', async () => {
    const email = await register();
    for (const headers of [{ origin: 'https://evil.example' }, { origin: 'http://127.0.0.1:3001' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { ...cookieMode, ...headers } });
      expectProblem(res, 403, 'csrf_failed');
      assert.equal(res.headers['set-cookie'], undefined, JSON.stringify(headers));
    }
    await browserLogin(email, { origin: new URL(issuer).origin, 'sec-fetch-site': 'same-origin' });
  });

  test('registration with the cookie transport from another origin is refused too', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail(), password: goodPassword }, headers: { ...cookieMode, origin: 'https://evil.example' } });
    expectProblem(res, 403, 'csrf_failed');
  });
});

describe('options', () => {
  test('cookieSameSite "strict" and allowedOrigins are honoured; the issuer origin is then no longer implied', async () => {
    const strict = await testApp({ cookieSameSite: 'strict', allowedOrigins: ['https://app.example.com/'] });
    try {
      const email = uniqueEmail();
      await strict.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
      const login = (origin: string) => strict.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { ...cookieMode, origin } });
      const res = await login('https://app.example.com');
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(setCookieLine(res, accessName).includes('SameSite=Strict'));
      expectProblem(await login(new URL(issuer).origin), 403, 'csrf_failed');
    } finally {
      await strict.close();
    }
  });

  test('a malformed allowed origin stops the app at startup, naming it', async () => {
    await assert.rejects(testApp({ allowedOrigins: ['app.example.com'] }), /allowedOrigins: "app\.example\.com" is not an origin/);
    await assert.rejects(testApp({ allowedOrigins: ['https://app.example.com/path'] }), /not an http\(s\) origin/);
    await assert.rejects(testApp({ cookieSameSite: 'none' as 'lax' }), /cookieSameSite must be "lax" or "strict"/);
  });
});
