// CORS with credentials for browser apps on the allowed origins (allowedOrigins /
// TOKENSTILE_ALLOWED_ORIGINS), over app.inject: preflights are granted to those origins only, real
// answers carry the grant for them only, and every answer varies on Origin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { expectProblem } from './problem-assertions.ts';

const app = 'http://localhost:5173';
const issuerOrigin = 'http://127.0.0.1:3000';

let t: TestApp;
before(async () => {
  t = await testApp({ allowedOrigins: [issuerOrigin, `${app}/`] });
});
after(() => t.close());

const preflight = (url: string, origin: string, method = 'POST', headers = 'content-type, x-csrf-token, authorization') =>
  t.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });

function corsHeaders(res: LightMyRequestResponse): string[] {
  return Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
}

function assertVaryOrigin(res: LightMyRequestResponse): void {
  assert.match(String(res.headers.vary ?? ''), /\bOrigin\b/i, `Vary: ${String(res.headers.vary)}`);
}

describe('preflight (OPTIONS)', () => {
  test('an allowed origin is granted credentials, the methods, and the CSRF, Authorization and transport headers', async () => {
    for (const [url, method] of [['/auth/login', 'POST'], ['/auth/me', 'PATCH'], ['/auth/sessions/abc', 'DELETE'], ['/auth/refresh', 'POST'], ['/auth/sessions', 'GET']] as const) {
      const res = await preflight(url, app, method);
      assert.equal(res.statusCode, 204, `${url}: ${res.statusCode} ${res.body}`);
      assert.equal(res.headers['access-control-allow-origin'], app);
      assert.equal(res.headers['access-control-allow-credentials'], 'true');
      const methods = String(res.headers['access-control-allow-methods']).split(/,\s*/);
      assert.ok(methods.includes(method), `${method} not in ${methods.join()}`);
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
      for (const h of ['content-type', 'authorization', 'x-csrf-token', 'tokenstile-transport']) assert.ok(allowed.includes(h), `${h} not in ${allowed.join()}`);
      assert.ok(Number(res.headers['access-control-max-age']) > 0);
      assertVaryOrigin(res);
    }
  });

  test('another origin, a look-alike, "null" and no origin get no CORS header at all', async () => {
    for (const origin of ['https://evil.example', 'http://localhost:5174', 'https://localhost:5173', 'http://localhost:5173.evil.example', 'null']) {
      const res = await preflight('/auth/login', origin);
      expectProblem(res, 403, 'csrf_failed');
      assert.deepEqual(corsHeaders(res), [], `${origin} got ${JSON.stringify(res.headers)}`);
      assertVaryOrigin(res);
    }
    const bare = await t.app.inject({ method: 'OPTIONS', url: '/auth/login' });
    expectProblem(bare, 404, 'not_found');
    assert.deepEqual(corsHeaders(bare), []);
  });

  test('a method the API does not answer is not granted', async () => {
    const res = await preflight('/auth/me', app, 'PUT');
    expectProblem(res, 403, 'csrf_failed');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.headers['access-control-allow-methods'], undefined);
  });
});

describe('actual requests', () => {
  test('an allowed origin gets the grant on success and on problem answers, with the headers a page needs exposed', async () => {
    const email = uniqueEmail();
    const reg = await t.app.inject({ method: 'POST', url: '/auth/register', headers: { origin: app }, payload: { email, password: goodPassword } });
    assert.equal(reg.statusCode, 201, reg.body);
    assert.equal(reg.headers['access-control-allow-origin'], app);
    assert.equal(reg.headers['access-control-allow-credentials'], 'true');
    assertVaryOrigin(reg);

    const login = await t.app.inject({ method: 'POST', url: '/auth/login', headers: { origin: app, 'tokenstile-transport': 'cookie' }, payload: { email, password: goodPassword } });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.headers['access-control-allow-origin'], app);
    assert.ok(login.cookies.length >= 2, 'the cookie-transport login from the allowed origin set its cookies');

    const refused = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { origin: app } });
    expectProblem(refused, 401, 'invalid_token');
    assert.equal(refused.headers['access-control-allow-origin'], app, 'the page can read why it was refused');
    const exposed = String(refused.headers['access-control-expose-headers']).toLowerCase();
    assert.ok(exposed.includes('www-authenticate') && exposed.includes('retry-after'), exposed);
  });

  test('another origin gets no CORS header, and its cookie-transport login is still refused', async () => {
    const email = uniqueEmail();
    await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', headers: { origin: 'https://evil.example', 'tokenstile-transport': 'cookie' }, payload: { email, password: goodPassword } });
    expectProblem(res, 403, 'csrf_failed');
    assert.deepEqual(corsHeaders(res), []);
    assertVaryOrigin(res);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { origin: 'https://evil.example' } });
    assert.deepEqual(corsHeaders(me), []);
  });

  test('by default only the issuer origin is granted', async () => {
    const plain = await testApp();
    try {
      const granted = await plain.app.inject({ method: 'OPTIONS', url: '/auth/login', headers: { origin: issuerOrigin, 'access-control-request-method': 'POST' } });
      assert.equal(granted.headers['access-control-allow-origin'], issuerOrigin);
      const other = await plain.app.inject({ method: 'OPTIONS', url: '/auth/login', headers: { origin: app, 'access-control-request-method': 'POST' } });
      expectProblem(other, 403, 'csrf_failed');
      assert.deepEqual(corsHeaders(other), []);
    } finally {
      await plain.close();
    }
  });
});
