import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTokenstile, openStores } from '../../src/index.ts';
import { tokenstile } from '../../src/http/plugin.ts';
import { buildNotesApp } from '../../examples/fastify-embed/app.ts';
import { bearer, fastHasher, goodPassword, issuer, problemOf, testBackend, uniqueEmail } from '../helpers.ts';

let app: FastifyInstance;

before(async () => {
  app = await buildNotesApp({ issuer, databaseUrl: 'sqlite::memory:', passwordHasher: fastHasher });
  await app.ready();
});
after(() => app.close());

async function signIn(): Promise<string> {
  const email = uniqueEmail();
  await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
  assert.equal(login.statusCode, 200);
  return login.json().accessToken;
}

test('the embedding app keeps its own public routes', async () => {
  const res = await app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().service, 'notes');
});

test("the app's own route refuses a request without a token, in problem+json with a Bearer challenge", async () => {
  const res = await app.inject({ method: 'GET', url: '/notes' });
  assert.equal(res.statusCode, 401);
  assert.equal(problemOf(res).code, 'invalid_token');
  assert.match(String(res.headers['www-authenticate']), /^Bearer realm="tokenstile"/);
});

test("request.auth carries the user on the app's own routes", async () => {
  const token = await signIn();
  const post = await app.inject({ method: 'POST', url: '/notes', headers: bearer(token), payload: { text: 'milk' } });
  assert.equal(post.statusCode, 201);
  const list = await app.inject({ method: 'GET', url: '/notes', headers: bearer(token) });
  assert.deepEqual(list.json(), { notes: ['milk'] });
  const other = await signIn();
  const otherList = await app.inject({ method: 'GET', url: '/notes', headers: bearer(other) });
  assert.deepEqual(otherList.json(), { notes: [] });
});

test("after logout the app's own route refuses the same token at once", async () => {
  const token = await signIn();
  assert.equal((await app.inject({ method: 'GET', url: '/notes', headers: bearer(token) })).statusCode, 200);
  const out = await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token) });
  assert.equal(out.statusCode, 204);
  const res = await app.inject({ method: 'GET', url: '/notes', headers: bearer(token) });
  assert.equal(res.statusCode, 401);
  assert.equal(problemOf(res).code, 'session_revoked');
});

test("the app's own validation settings stay its own", async () => {
  const token = await signIn();
  // Fastify's default Ajv (removeAdditional) still applies to the app's routes...
  const res = await app.inject({ method: 'POST', url: '/notes', headers: bearer(token), payload: { text: 'x', extra: 1 } });
  assert.equal(res.statusCode, 201);
  // ...while Tokenstile's routes refuse unknown fields.
  const reg = await app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail(), password: goodPassword, extra: 1 } });
  assert.equal(reg.statusCode, 400);
  assert.equal(problemOf(reg).code, 'invalid_request');
});

test('an app on stores the user opened answers 503 problem+json, not 500, once the database is closed', async () => {
  const backend = testBackend();
  const stores = await openStores(backend.options.databaseUrl!);
  const core = await createTokenstile({ stores, issuer, passwordHasher: fastHasher, rateLimits: false });
  const own = Fastify();
  await own.register(tokenstile, { tokenstile: core });
  try {
    const email = uniqueEmail();
    const registered = await own.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    assert.equal(registered.statusCode, 201);
    await stores.close();
    const res = await own.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
    assert.equal(res.statusCode, 503, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(problemOf(res).code, 'service_unavailable');
    assert.doesNotMatch(res.body, /database is not open|pool|sqlite|postgres/i, 'no driver text in the answer');
  } finally {
    await own.close();
    await core.close();
    await backend.cleanup();
  }
});
