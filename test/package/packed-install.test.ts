// What a user gets from `npm install`: the packed packages (after `npm run build`) installed into
// empty projects, then what got installed (packages, bytes, native modules) and what importing the
// entry points loads (a resolve hook in a fresh process records every package resolved).
// - @tokenstile/verify has one dependency, jose (itself dependency-free, loaded only for DPoP-bound
//   tokens): it installs from its tarball and the npm cache (the registry when the cache lacks jose).
// - tokenstile (the server) needs its dependencies from the npm registry (the local cache first);
//   without the registry that test is skipped (failed under CI=true) with the reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const registryDown = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTCACHED|network|request to .* failed/i;
/** What a service that only verifies must never install (jose it installs, and loads only for DPoP). */
const heavy = ['fastify', 'pg', 'ioredis', '@node-rs/argon2', 'express', 'hono'];

let dir: string;
const tarballs: { server?: string; verify?: string } = {};

async function pack(cwd: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent'], { cwd });
  return join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tokenstile-install-'));
  tarballs.server = await pack(root);
  tarballs.verify = await pack(join(root, 'packages/verify'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** An empty ESM project with `specs` installed; null when the registry is out of reach (skipped). */
async function installInto(t: TestContext, name: string, specs: string[], flags: string[] = []): Promise<string | null> {
  const project = join(dir, name);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }));
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', ...flags, ...specs], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr ?? err);
    if (registryDown.test(why) && process.env.CI !== 'true') {
      t.skip(`the npm registry is unreachable: ${why.split('\n').find((l) => registryDown.test(l))}`);
      return null;
    }
    throw err;
  }
  return project;
}

/** Every installed package (name@version), from npm's record of node_modules. */
function installedPackages(project: string): string[] {
  const lock = JSON.parse(readFileSync(join(project, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; link?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && !entry.link)
    .map(([path, entry]) => `${path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${entry.version}`)
    .sort();
}

/** Bytes of every file under `folder` (links not followed), and the native `.node` modules among them. */
function footprint(folder: string): { bytes: number; native: string[] } {
  let bytes = 0;
  const native: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        bytes += lstatSync(path).size;
        if (entry.name.endsWith('.node')) native.push(path.slice(folder.length + 1));
      }
    }
  };
  walk(folder);
  return { bytes, native };
}

/**
 * Runs `body` (an ES module body, top-level await allowed) in a fresh Node in `project`, with a
 * resolve hook recording every package (not built-in module) resolved from then on; returns the
 * packages, and what `body` printed with `report(value)`.
 */
async function loadIn(project: string, body: string): Promise<{ loaded: string[]; report: unknown }> {
  const script = `
    import { builtinModules, registerHooks } from 'node:module';
    const builtins = new Set(builtinModules);
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) {
      if (!/^(\\.|\\/|node:|file:|data:)/.test(specifier) && !builtins.has(specifier)) seen.add(specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/'));
      return next(specifier, context);
    } });
    let reported;
    const report = (value) => { reported = value; };
    ${body}
    console.log(JSON.stringify({ loaded: [...seen].sort(), report: reported }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { loaded: string[]; report: unknown };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

test('npm install @tokenstile/verify installs two packages (itself and jose): no framework, database driver or native module', { timeout: 2 * 60_000 }, async (t) => {
  const project = await installInto(t, 'verify-only', [tarballs.verify!], ['--prefer-offline']);
  if (project === null) return;
  const packages = installedPackages(project);
  assert.deepEqual(packages.map((p) => p.slice(0, p.lastIndexOf('@'))), ['@tokenstile/verify', 'jose']);
  for (const name of heavy) assert.ok(!packages.some((p) => p.startsWith(`${name}@`)), name);
  // Built from src/verify and what it imports: no server code (src/http, src/stores, src/cli) came along.
  const dist = join(project, 'node_modules/@tokenstile/verify/dist');
  assert.deepEqual(readdirSync(dist).sort(), ['core', 'features', 'protocol', 'verify']);
  // Of the features, only their error-code declarations (plain data the error registry merges).
  const featureFiles = readdirSync(join(dist, 'features'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  assert.ok(featureFiles.length > 0 && featureFiles.every((name) => /-codes\.(js|d\.ts)$/.test(name)), featureFiles.join(', '));
  const { bytes, native } = footprint(join(project, 'node_modules'));
  assert.deepEqual(native, []);
  // 0.4 MB today (jose 0.35 MB of it); a bound that a stray dependency or a copy of the server would break.
  assert.ok(bytes < 800_000, `node_modules holds ${mb(bytes)}`);
  t.diagnostic(`@tokenstile/verify: ${packages.length} packages, ${mb(bytes)}, ${native.length} native modules`);
});

test('@tokenstile/verify and its /express and /hono adapters import without loading any other package, and answer a request', { timeout: 2 * 60_000 }, async (t) => {
  const project = await installInto(t, 'verify-load', [tarballs.verify!], ['--prefer-offline']);
  if (project === null) return;
  const { loaded, report } = await loadIn(
    project,
    `const verify = await import('@tokenstile/verify');
    const { expressAuth } = await import('@tokenstile/verify/express');
    const { honoAuth } = await import('@tokenstile/verify/hono');
    const verifier = { verify: async () => ({ sub: 'user-1', sid: 'session-1' }) };
    const missing = await verify.authenticateRequest(verifier, undefined);
    const allowed = await verify.authenticateRequest(verifier, 'Bearer a.b.c');
    report({
      exports: ['createVerifier', 'authenticateRequest', 'InvalidTokenError', 'TokenExpiredError', 'SessionRevokedError', 'VerifierUnavailableError'].filter((n) => typeof verify[n] !== 'function'),
      adapters: [typeof expressAuth, typeof honoAuth],
      missing: { status: missing.status, challenge: missing.headers['www-authenticate'], code: missing.body.code, type: missing.headers['content-type'] },
      allowed: allowed.ok && allowed.auth.userId,
    });`,
  );
  assert.deepEqual(loaded, ['@tokenstile/verify'], `loaded: ${loaded.join(', ')}`);
  assert.deepEqual(report, {
    exports: [],
    adapters: ['function', 'function'],
    missing: { status: 401, challenge: 'Bearer realm="tokenstile"', code: 'invalid_token', type: 'application/problem+json; charset=utf-8' },
    allowed: 'user-1',
  });
});

test('the full server package still installs; importing it loads no web framework, and no database driver or native module until one is used; Fastify comes with tokenstile/fastify', { timeout: 5 * 60_000 }, async (t) => {
  const project = await installInto(t, 'server', [tarballs.server!], ['--prefer-offline']);
  if (project === null) return;
  const packages = installedPackages(project);
  for (const name of ['fastify', 'pg', 'ioredis', '@node-rs/argon2']) assert.ok(packages.some((p) => p.startsWith(`${name}@`)), `${name} is a dependency of the server`);
  const { bytes, native } = footprint(join(project, 'node_modules'));
  t.diagnostic(`tokenstile (server): ${packages.length} packages, ${mb(bytes)}, native modules: ${native.join(', ') || 'none'}`);

  const verifyOnly = await loadIn(project, `for (const entry of ['tokenstile/verify', 'tokenstile/express', 'tokenstile/hono']) await import(entry);
    report(typeof (await import('tokenstile/verify')).createVerifier);`);
  assert.deepEqual(verifyOnly.loaded, ['tokenstile'], `loaded: ${verifyOnly.loaded.join(', ')}`);
  assert.equal(verifyOnly.report, 'function');

  // The root entry is the framework-free core: it loads no other package at all. The drivers come
  // when used: pg at the first postgres:// URL, @node-rs/argon2 at the first password hash (ioredis
  // the same way, at the first redis:// URL); Fastify only with tokenstile/fastify.
  const server = await loadIn(
    project,
    `const tokenstile = await import('tokenstile');
    const atImport = [...seen].sort();
    const refused = await tokenstile.openStores('postgres://nobody@127.0.0.1:1/none').then(() => 'opened', (err) => err.code);
    const hashed = await tokenstile.createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }).hash('correct horse 42');
    const beforeFastify = [...seen].sort();
    const { buildApp } = await import('tokenstile/fastify');
    report({ atImport, beforeFastify, refused, hashed: hashed.startsWith('$argon2id$'), buildApp: typeof buildApp, rootHasBuildApp: 'buildApp' in tokenstile });`,
  );
  const report = server.report as { atImport: string[]; beforeFastify: string[]; refused: string; hashed: boolean; buildApp: string; rootHasBuildApp: boolean };
  assert.deepEqual(report.atImport, ['tokenstile'], `importing tokenstile loaded: ${report.atImport.join(', ')}`);
  assert.equal(report.hashed, true);
  // The driver was loaded and tried to connect; the store refuses with its typed error.
  assert.match(report.refused, /^(ECONNREFUSED|service_unavailable)$/);
  assert.ok(report.beforeFastify.includes('pg') && report.beforeFastify.includes('@node-rs/argon2'), `loaded once used: ${report.beforeFastify.join(', ')}`);
  assert.ok(!report.beforeFastify.some((name) => name === 'fastify' || name.startsWith('@fastify/')), `loaded before tokenstile/fastify: ${report.beforeFastify.join(', ')}`);
  assert.equal(report.rootHasBuildApp, false);
  assert.equal(report.buildApp, 'function');
  assert.ok(server.loaded.includes('fastify'), `loaded in the end: ${server.loaded.join(', ')}`);
  assert.ok(!server.loaded.includes('ioredis'), 'no redis:// URL was used');
});
