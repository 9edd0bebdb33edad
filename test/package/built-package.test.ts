// Imports Tokenstile by its package name, which resolves through package.json "exports" to the
// compiled dist/ (run after `npm run build`, as `npm test` does): what a user's code would load.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the built package exposes its public surface with type declarations', async () => {
  const pkg = await import('tokenstile');
  for (const name of ['buildApp', 'createTokenstile', 'openStores', 'openSqliteStores', 'TokenstileError', 'createArgon2Hasher']) {
    assert.equal(typeof (pkg as Record<string, unknown>)[name], 'function', name);
  }
  // The RFC 8176 values `startSession` accepts, for host apps that map their own sign-in methods.
  assert.ok(pkg.amrValues.has('pwd') && pkg.amrValues.has('hwk') && !pkg.amrValues.has('password'));
  const resolved = import.meta.resolve('tokenstile');
  assert.match(resolved, /\/dist\/index\.js$/);
  assert.ok(existsSync(`${root}dist/index.d.ts`));
  assert.ok(existsSync(`${root}dist/http/fastify.d.ts`));
  const fastify = await import('tokenstile/fastify');
  assert.equal(typeof fastify.tokenstile, 'function');
});

test('the resource-server subpaths import by name, with type declarations', async () => {
  const verify = await import('tokenstile/verify');
  for (const name of ['createVerifier', 'authenticateRequest', 'TokenVerificationError', 'InvalidTokenError', 'TokenExpiredError', 'SessionRevokedError', 'VerifierUnavailableError']) {
    assert.equal(typeof (verify as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(typeof (await import('tokenstile/express')).expressAuth, 'function');
  assert.equal(typeof (await import('tokenstile/hono')).honoAuth, 'function');
  assert.equal(typeof (await import('tokenstile/fastify')).tokenstileVerifier, 'function');
  for (const file of ['verify/index.d.ts', 'verify/express.d.ts', 'verify/hono.d.ts']) assert.ok(existsSync(`${root}dist/${file}`), file);
});

test('tokenstile/verify, /express and /hono load no framework, database driver or native module', () => {
  // Records every bare specifier resolved while loading the three subpaths in a fresh process.
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) { if (!specifier.startsWith('.') && !specifier.startsWith('node:') && !specifier.startsWith('file:')) seen.add(specifier); return next(specifier, context); } });
    await import('tokenstile/verify'); await import('tokenstile/express'); await import('tokenstile/hono');
    console.log(JSON.stringify([...seen]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  const loaded = JSON.parse(out) as string[];
  assert.ok(loaded.includes('tokenstile/verify'), 'the hook saw the imports');
  assert.deepEqual(loaded.filter((s) => !s.startsWith('tokenstile')), [], `loaded: ${loaded.join(', ')}`);
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
