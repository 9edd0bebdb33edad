// The checks every notes example answers alike (express-app, hono-app, next-app): a protected
// GET /api/notes, sign-up and sign-in through the contract's /auth/* routes, notes kept per user,
// and access lost at logout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goodPassword, uniqueEmail } from '../helpers.ts';

/** Registers the shared tests; `baseUrl` is read when they run (the app may start in a `before`). */
export function notesAppChecks(baseUrl: () => string): void {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${baseUrl()}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  test('GET /api/notes without a token: 401 problem+json with a Bearer challenge', async () => {
    const res = await fetch(`${baseUrl()}/api/notes`);
    assert.equal(res.status, 401);
    assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
    assert.match(String(res.headers.get('www-authenticate')), /^Bearer/);
    assert.equal(((await res.json()) as { code: string }).code, 'invalid_token');
  });

  test('sign up and in through /auth/*, keep notes, and lose access at logout', async () => {
    const url = baseUrl();
    const email = uniqueEmail();
    assert.equal((await post('/auth/register', { email, password: goodPassword })).status, 201);
    const login = await post('/auth/login', { email, password: goodPassword });
    assert.equal(login.status, 200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const bearer = { authorization: `Bearer ${accessToken}` };
    assert.equal((await post('/api/notes', { text: 'buy milk' }, bearer)).status, 201);
    const bad = await post('/api/notes', { text: 42 }, bearer);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'text');
    assert.deepEqual(await (await fetch(`${url}/api/notes`, { headers: bearer })).json(), { notes: ['buy milk'] });

    const other = uniqueEmail();
    await post('/auth/register', { email: other, password: goodPassword });
    const theirs = (await (await post('/auth/login', { email: other, password: goodPassword })).json()) as { accessToken: string };
    assert.deepEqual(await (await fetch(`${url}/api/notes`, { headers: { authorization: `Bearer ${theirs.accessToken}` } })).json(), { notes: [] }, "only the caller's notes");

    assert.equal((await post('/auth/logout', {}, bearer)).status, 204);
    const gone = await fetch(`${url}/api/notes`, { headers: bearer });
    assert.equal(gone.status, 401);
    assert.equal(((await gone.json()) as { code: string }).code, 'session_revoked');
  });
}
