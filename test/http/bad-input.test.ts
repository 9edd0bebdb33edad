import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { assertNoStack, expectFieldProblem, expectProblem } from './problem-assertions.ts';

let t: TestApp;
let s: TokenBody;
before(async () => {
  t = await testApp();
  s = await t.signUp();
});
after(() => t.close());

const json = { 'content-type': 'application/json' };
const raw = (method: 'POST' | 'PATCH', url: string, payload: string, headers: Record<string, string> = json) =>
  t.app.inject({ method, url, payload, headers: { ...headers, ...bearer(s.accessToken) } });
const me = (token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });

/** Each JSON endpoint with a body that is valid, for mutation below. */
const endpoints: Array<{ method: 'POST' | 'PATCH'; url: string; valid: () => Record<string, unknown> }> = [
  { method: 'POST', url: '/auth/register', valid: () => ({ email: uniqueEmail(), password: goodPassword }) },
  { method: 'POST', url: '/auth/login', valid: () => ({ email: uniqueEmail(), password: goodPassword }) },
  { method: 'POST', url: '/auth/refresh', valid: () => ({ refreshToken: 'tsr_x' }) },
  { method: 'POST', url: '/auth/logout', valid: () => ({ scope: 'local' }) },
  { method: 'PATCH', url: '/auth/me', valid: () => ({ name: 'Someone' }) },
  { method: 'POST', url: '/auth/password', valid: () => ({ currentPassword: 'not it 1234', newPassword: goodPassword }) },
];

const malformed = ['{', '{"email":}', '{"email": "a@b.co",}', "{'email': 'a@b.co'}", 'nul', '{"a":1}}', '\u0000', '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"admin": true}}}'];

describe('request bodies: always a 4xx problem, never a 500', () => {
  for (const { method, url } of endpoints) {
    test(`${method} ${url}: malformed JSON is 400 invalid_request`, async () => {
      for (const body of malformed) expectProblem(await raw(method, url, body), 400, 'invalid_request');
    });

    test(`${method} ${url}: JSON that is not an object is 400 invalid_request`, async () => {
      for (const body of ['[]', '"text"', '42', 'true', '[{"scope":"local"}]']) expectProblem(await raw(method, url, body), 400, 'invalid_request');
    });

    test(`${method} ${url}: an unknown field is 400 invalid_request naming that field`, async () => {
      const body = JSON.stringify({ extra: true, isAdmin: true });
      const withValid = (v: Record<string, unknown>) => JSON.stringify({ ...v, isAdmin: true });
      expectProblem(await raw(method, url, body), 400, 'invalid_request');
      const detail = expectFieldProblem(await raw(method, url, withValid(endpoints.find((e) => e.url === url)!.valid())), 'isAdmin');
      assert.match(detail, /not an allowed field/);
    });

    test(`${method} ${url}: a 1 MB body is 413 payload_too_large`, async () => {
      const body = JSON.stringify({ padding: 'x'.repeat(1 << 20) });
      expectProblem(await raw(method, url, body), 413, 'payload_too_large');
    });

    test(`${method} ${url}: text/plain and form bodies are 415`, async () => {
      expectProblem(await raw(method, url, '{}', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
      expectProblem(await raw(method, url, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
    });
  }

  const wrongTypes: Array<[string, string, unknown]> = [
    ['/auth/register', 'email', 123],
    ['/auth/register', 'email', ['a@example.com']],
    ['/auth/register', 'password', true],
    ['/auth/register', 'password', 12345678],
    ['/auth/register', 'name', 42],
    ['/auth/register', 'name', { first: 'x' }],
    ['/auth/login', 'email', null],
    ['/auth/login', 'password', { $ne: '' }],
    ['/auth/refresh', 'refreshToken', 123],
    ['/auth/refresh', 'refreshToken', null],
    ['/auth/refresh', 'refreshToken', ['tsr_x']],
    ['/auth/logout', 'scope', 1],
    ['/auth/logout', 'scope', ['global']],
    ['/auth/me', 'name', ['x']],
    ['/auth/password', 'newPassword', 12345678],
  ];
  for (const [url, field, value] of wrongTypes) {
    test(`${url}: ${field} = ${JSON.stringify(value)} is 400 invalid_request naming ${field}`, async () => {
      const endpoint = endpoints.find((e) => e.url === url)!;
      const body = JSON.stringify({ ...endpoint.valid(), [field]: value });
      expectFieldProblem(await raw(endpoint.method, url, body), field);
    });
  }

  const missing: Array<[string, object, string]> = [
    ['/auth/register', { password: goodPassword }, 'email'],
    ['/auth/register', { email: uniqueEmail() }, 'password'],
    ['/auth/login', { email: 'a@example.com' }, 'password'],
    ['/auth/login', {}, 'email'],
    ['/auth/refresh', {}, 'refreshToken'],
    ['/auth/me', {}, 'name'],
    ['/auth/password', { currentPassword: goodPassword }, 'newPassword'],
    ['/auth/password', { newPassword: goodPassword }, 'currentPassword'],
  ];
  for (const [url, body, field] of missing) {
    test(`${url}: missing fields ${JSON.stringify(body)} is 400 invalid_request naming ${field} as required`, async () => {
      const endpoint = endpoints.find((e) => e.url === url)!;
      assert.match(expectFieldProblem(await raw(endpoint.method, url, JSON.stringify(body)), field), /is required/);
    });
  }

  test('a malformed email at registration is 400 naming email, without echoing it', async () => {
    for (const email of ['not-an-email', 'two@@example.com', 'spaces in@example.com', 'nodot@example']) {
      const res = await raw('POST', '/auth/register', JSON.stringify({ email, password: goodPassword }));
      assert.match(expectFieldProblem(res, 'email'), /^email must (be an address like name@example\.com|not contain spaces, invisible or control characters)\.$/);
      assert.ok(!res.body.includes(email), res.body);
    }
  });

  test('a name over 100 characters is 400 naming name, at registration and on PATCH /auth/me', async () => {
    const name = 'n'.repeat(101);
    assert.match(expectFieldProblem(await raw('POST', '/auth/register', JSON.stringify({ email: uniqueEmail(), password: goodPassword, name })), 'name'), /100 characters/);
    assert.match(expectFieldProblem(await raw('PATCH', '/auth/me', JSON.stringify({ name })), 'name'), /100 characters/);
  });

  test('a value out of range names the field and what is allowed', async () => {
    assert.match(expectFieldProblem(await raw('POST', '/auth/logout', JSON.stringify({ scope: 'everything' })), 'scope'), /"local", "global", "others"/);
    assert.match(expectFieldProblem(await raw('POST', '/auth/refresh', JSON.stringify({ refreshToken: 'z'.repeat(1025) })), 'refreshToken'), /at most 1024/);
    assert.match(expectFieldProblem(await raw('POST', '/auth/login', JSON.stringify({ email: '', password: goodPassword })), 'email'), /must not be empty/);
  });

  test('a body that is not an object says so, without naming a field', async () => {
    const body = expectProblem(await raw('POST', '/auth/login', '[]'), 400, 'invalid_request') as { field?: string; detail: string };
    assert.equal(body.field, undefined);
    assert.match(body.detail, /must be an object/);
  });

  test('the form routes name the missing parameter too', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/oauth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token_type_hint=access_token' });
    expectFieldProblem(res, 'token');
  });

  test('the body limit is 16 KiB: one byte over is 413, the limit itself is read', async () => {
    const sized = (n: number) => {
      const head = '{"email":"a@example.com","password":"';
      return head + 'x'.repeat(n - head.length - 2) + '"}';
    };
    assert.equal(Buffer.byteLength(sized(16 * 1024)), 16 * 1024);
    expectProblem(await raw('POST', '/auth/login', sized(16 * 1024 + 1)), 413, 'payload_too_large');
    // Read and judged on its content: a 16 KB password is just a wrong password at login.
    expectProblem(await raw('POST', '/auth/login', sized(16 * 1024)), 401, 'invalid_credentials');
  });

  test('an empty body on login is 400 invalid_request, with or without a content type', async () => {
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/login' }), 400, 'invalid_request');
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: '' }), 400, 'invalid_request');
    expectProblem(await t.app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: '{}' }), 400, 'invalid_request');
  });

  test('none of the bad bodies above ended or changed the session they were sent with', async () => {
    const res = await me(s.accessToken);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().name, null);
  });

  test('a validation message names the field, never echoes the value', async () => {
    const secret = 'S3cr3t-Value-Do-Not-Echo';
    const res = await raw('POST', '/auth/login', JSON.stringify({ email: uniqueEmail(), password: goodPassword, stray: secret }));
    expectFieldProblem(res, 'stray');
    assert.ok(!res.body.includes(secret), res.body);
    const typed = await raw('POST', '/auth/login', JSON.stringify({ email: uniqueEmail(), password: [secret] }));
    expectFieldProblem(typed, 'password');
    assert.ok(!typed.body.includes(secret), typed.body);
    // A key that does not read as a field name (a pasted token, control characters) is not shown.
    for (const key of [`${secret}.with spaces`, 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln', '\u001b[31mred', 'x'.repeat(100)]) {
      const odd = await raw('POST', '/auth/login', JSON.stringify({ email: uniqueEmail(), password: goodPassword, [key]: 1 }));
      const body = expectProblem(odd, 400, 'invalid_request') as { field?: string; detail: string };
      assert.equal(body.field, undefined, odd.body);
      assert.match(body.detail, /not an allowed field; its name is not shown/);
      assert.ok(!odd.body.includes(key.slice(0, 20)), odd.body);
    }
    const malformedRes = await raw('POST', '/auth/login', `{"password": "${secret}"`);
    expectProblem(malformedRes, 400, 'invalid_request');
    assert.ok(!malformedRes.body.includes(secret), malformedRes.body);
  });
});

describe('unknown routes', () => {
  for (const [method, url] of [['GET', '/nope'], ['POST', '/auth/nope'], ['GET', '/auth/login'], ['PUT', '/auth/me'], ['GET', '/auth/../../etc/passwd']] as const) {
    test(`${method} ${url} is a 404 not_found problem`, async () => {
      expectProblem(await t.app.inject({ method, url }), 404, 'not_found');
    });
  }
});

describe('URLs Fastify refuses before any handler', () => {
  test('a path parameter too long for any id is a 404 problem, with the caller authenticated', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${'x'.repeat(500)}`, headers: bearer(s.accessToken) });
    expectProblem(res, 404, 'not_found');
    assertNoStack(res.body);
  });

  test('a malformed percent-encoding is a 400 problem', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/auth/sessions/%zz', headers: bearer(s.accessToken) });
    expectProblem(res, 400, 'invalid_request');
    assert.doesNotMatch(res.body, /%zz/, 'the URL is not echoed');
  });
});

describe('POST /auth/refresh with garbage tokens', () => {
  test('every shape of garbage is 401 invalid_refresh_token', async () => {
    const real = (await t.signUp()).refreshToken;
    const flip = (token: string, at: number) => token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    const other = await testApp();
    let foreign: string;
    try {
      foreign = (await other.signUp()).refreshToken;
    } finally {
      await other.close();
    }
    const garbage = [
      '',
      ' ',
      'x',
      'tsr_',
      `tsr_${'A'.repeat(92)}`,
      `tsr_${'_'.repeat(92)}`,
      'null',
      s.accessToken,
      `Bearer ${real}`,
      `${real} `,
      ` ${real}`,
      `${real}=`,
      real.slice(0, -1),
      `${real}A`,
      real.toUpperCase(),
      flip(real, real.length - 1),
      flip(real, 30),
      flip(real, 4),
      real.replace('tsr_', 'tsx_'),
      foreign,
      'z'.repeat(1024),
      '\u00e9\u00e9\u00e9\u{1F600}',
      '../../../../etc/passwd',
      "' OR 1=1 --",
    ];
    for (const token of garbage) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: token } });
      expectProblem(res, 401, 'invalid_refresh_token');
      assert.ok(!res.body.includes(token) || token.length < 4, 'the token is not echoed');
    }
    // None of the forgeries, though they name the real session, ended it.
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: real } })).statusCode, 200);
  });

  test('a refresh token over 1024 characters is refused without a 500', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: 'z'.repeat(5000) } });
    assert.ok(res.statusCode === 400 || res.statusCode === 401, `${res.statusCode}`);
    assertNoStack(res.body);
    expectProblem(res, res.statusCode, res.statusCode === 400 ? 'invalid_request' : 'invalid_refresh_token');
  });
});

describe('logout bodies', () => {
  test('a JSON null body is a malformed body (400), not "no body"', async () => {
    const res = await raw('POST', '/auth/logout', 'null', { ...json, ...bearer(s.accessToken) });
    expectProblem(res, 400, 'invalid_request');
    assert.equal((await me(s.accessToken)).statusCode, 200, 'the session was not ended');
  });
});
