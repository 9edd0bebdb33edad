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
  for (const name of ['createTokenstile', 'openStores', 'openSqliteStores', 'TokenstileError', 'createArgon2Hasher']) {
    assert.equal(typeof (pkg as Record<string, unknown>)[name], 'function', name);
  }
  // The framework-free core: the Fastify server is in tokenstile/fastify (below).
  assert.equal('buildApp' in pkg, false);
  // The RFC 8176 values `startSession` accepts, for host apps that map their own sign-in methods.
  assert.ok(pkg.amrValues.has('pwd') && pkg.amrValues.has('hwk') && !pkg.amrValues.has('password'));
  const resolved = import.meta.resolve('tokenstile');
  assert.match(resolved, /\/dist\/index\.js$/);
  assert.ok(existsSync(`${root}dist/index.d.ts`));
  assert.ok(existsSync(`${root}dist/http/fastify.d.ts`));
  const fastify = await import('tokenstile/fastify');
  assert.equal(typeof fastify.tokenstile, 'function');
  assert.equal(typeof fastify.buildApp, 'function');
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

/** The packages (bare specifiers) resolved while a fresh process imports `entries` by package name. */
function packagesLoadedBy(entries: string[]): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) { if (!specifier.startsWith('.') && !specifier.startsWith('node:') && !specifier.startsWith('file:')) seen.add(specifier); return next(specifier, context); } });
    for (const entry of ${JSON.stringify(entries)}) await import(entry);
    console.log(JSON.stringify([...seen]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  const loaded = JSON.parse(out) as string[];
  assert.ok(loaded.includes(entries[0]!), 'the hook saw the imports');
  return loaded;
}

test('tokenstile/verify, /express and /hono load no framework, database driver or native module', () => {
  const loaded = packagesLoadedBy(['tokenstile/verify', 'tokenstile/express', 'tokenstile/hono']);
  assert.deepEqual(loaded.filter((s) => !s.startsWith('tokenstile')), [], `loaded: ${loaded.join(', ')}`);
});

test('importing tokenstile loads no other package: no web framework, database driver or native module', () => {
  const loaded = packagesLoadedBy(['tokenstile']);
  assert.deepEqual(loaded, ['tokenstile'], `loaded: ${loaded.join(', ')}`);
  // Where Fastify comes in: its own subpath (a test that the hook above would see it).
  assert.ok(packagesLoadedBy(['tokenstile/fastify']).includes('fastify'));
});

test('internal modules are not importable through the package', async () => {
  await assert.rejects(import('tokenstile/dist/core/sessions.js' as string), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});

test('the built server signs in, serves /auth/me and refuses the token after logout', async () => {
  const { createArgon2Hasher } = await import('tokenstile');
  const { buildApp } = await import('tokenstile/fastify');
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
