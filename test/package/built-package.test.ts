// Imports Tokenstile by its package name, which resolves through package.json "exports" to the
// compiled dist/ (run after `npm run build`, as `npm test` does): what a user's code would load.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the built package exposes its public surface with type declarations', async () => {
  const pkg = await import('tokenstile');
  for (const name of ['buildApp', 'createTokenstile', 'openStores', 'openSqliteStores', 'TokenstileError', 'createArgon2Hasher']) {
    assert.equal(typeof (pkg as Record<string, unknown>)[name], 'function', name);
  }
  const resolved = import.meta.resolve('tokenstile');
  assert.match(resolved, /\/dist\/index\.js$/);
  assert.ok(existsSync(`${root}dist/index.d.ts`));
  assert.ok(existsSync(`${root}dist/http/fastify.d.ts`));
  const fastify = await import('tokenstile/fastify');
  assert.equal(typeof fastify.tokenstile, 'function');
});

test('internal modules are not importable through the package', async () => {
  await assert.rejects(import('tokenstile/dist/core/sessions.js' as string), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});

test('the built server signs in, serves /auth/me and refuses the token after logout', async () => {
  const { buildApp, createArgon2Hasher } = await import('tokenstile');
  const app = buildApp({
    issuer: 'http://127.0.0.1:3000',
    databaseUrl: 'sqlite::memory:',
    passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
    docs: false,
  });
  try {
    const creds = { email: 'built@example.com', password: 'correct horse 42' };
    assert.equal((await app.inject({ method: 'POST', url: '/auth/register', payload: creds })).statusCode, 201);
    const { accessToken } = (await app.inject({ method: 'POST', url: '/auth/login', payload: creds })).json();
    const auth = { authorization: `Bearer ${accessToken}` };
    const me = await app.inject({ method: 'GET', url: '/auth/me', headers: auth });
    assert.equal(me.json().email, creds.email);
    assert.equal((await app.inject({ method: 'POST', url: '/auth/logout', headers: auth })).statusCode, 204);
    const after = await app.inject({ method: 'GET', url: '/auth/me', headers: auth });
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().code, 'session_revoked');
  } finally {
    await app.close();
  }
});
