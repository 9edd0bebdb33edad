// examples/next-app as a user runs it: `npm install` in its folder (from the npm registry; the
// folder's node_modules is the cache), then `npm start`'s command, which builds the app with
// `next build` when needed and serves it. Driven over HTTP (the route handlers, and proxy.ts, the
// guard in front of every /api path), then signed in through Chromium.
// Needs `npm run build` at the root (the app links the built package with `file:../..`).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notesAppChecks } from './notes-app-checks.ts';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { chromiumPath, launchBrowser } from '../browser/browser-harness.ts';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { freePort } from '../scale/harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const appDir = join(root, 'examples', 'next-app');
const ci = process.env.CI === 'true';

/** Errors that mean the registry could not be reached (rather than a broken install). */
const offline = /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH)|network|socket hang up|request to .* failed/i;

/**
 * Installs the example's dependencies in its folder; returns why the test cannot run (no
 * registry), or null. A failure for any other reason, or any failure under CI=true, throws.
 */
function installDependencies(): string | null {
  if (!existsSync(join(root, 'dist', 'http', 'fetch.js'))) throw new Error('the package is not built: run `npm run build` at the root first');
  const started = performance.now();
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: appDir,
    encoding: 'utf8',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    timeout: 10 * 60_000,
  });
  const output = `${npm.stdout ?? ''}${npm.stderr ?? ''}${npm.error?.message ?? ''}`;
  if (npm.status === 0) {
    console.log(`# examples/next-app: npm install took ${Math.round(performance.now() - started)} ms`);
    return null;
  }
  if (!ci && offline.test(output)) return `the npm registry is unreachable (npm install in examples/next-app failed: ${output.trim().split('\n').at(-1)})`;
  throw new Error(`npm install in examples/next-app failed (${npm.status ?? npm.signal}):\n${output}`);
}

/** The app's `npm start` (build if needed, then `next start`), as its own process group. */
function startApp(port: number, databaseUrl: string) {
  const manifest = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { scripts: { start: string }; dependencies: Record<string, string> };
  assert.equal(manifest.dependencies.tokenstile, 'file:../..', 'the example depends on the root package');
  const [command, ...args] = manifest.scripts.start.split(' ');
  assert.equal(command, 'node');
  const child = spawn(process.execPath, args, {
    cwd: appDir,
    detached: true, // its own group, so the next-server it starts can be ended with it
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), TOKENSTILE_DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => out,
    running: () => child.exitCode === null && child.signalCode === null,
    /** SIGTERM (start.mjs passes it on to next-server); the whole group is killed if it lingers. */
    async stop(): Promise<void> {
      if (child.pid === undefined) return;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 15_000).unref());
      await Promise.race([exited, timer]);
      try {
        process.kill(-child.pid, 'SIGKILL'); // anything left of the group (normally nothing)
      } catch {
        // the group is gone: the clean case
      }
    },
  };
}

/** Polls until the app answers HTTP (a build comes first on the first start): bounded. */
async function waitUntilServing(url: string, app: ReturnType<typeof startApp>, limitMs: number): Promise<void> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    if (!app.running()) throw new Error(`the app exited before serving:\n${app.output()}`);
    try {
      if ((await fetch(`${url}/api/notes`, { signal: AbortSignal.timeout(5_000) })).status === 401) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`the app did not serve within ${limitMs / 1000} s:\n${app.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const skip = installDependencies() ?? false;
if (skip) console.log(`# SKIPPED examples/next-app: ${skip}`);

describe('examples/next-app', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenstile-next-app-'));
  let app: ReturnType<typeof startApp>;
  let url: string;
  before(async () => {
    const port = await freePort();
    // localhost, not 127.0.0.1: the issuer (and so the allowed browser origin) is http://localhost:PORT.
    url = `http://localhost:${port}`;
    app = startApp(port, `sqlite:${join(dataDir, 'tokenstile.db')}`);
    const started = performance.now();
    // Generous: `next build` on a busy 2-core machine; the wait ends as soon as it serves.
    await waitUntilServing(url, app, 8 * 60_000);
    console.log(`# examples/next-app: build (if needed) and start took ${Math.round(performance.now() - started)} ms`);
  });
  after(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  notesAppChecks(() => url);

  test('proxy.ts guards every /api path before routing: 401 without a token, through with one, 401 session_revoked at once after logout', async () => {
    // /api/elsewhere has no route: only the proxy can answer 401 there (Next.js alone answers 404).
    const anonymous = await fetch(`${url}/api/elsewhere`);
    assert.equal(anonymous.status, 401, 'the proxy refuses a caller without a token');
    assert.match(String(anonymous.headers.get('content-type')), /^application\/problem\+json/);
    assert.match(String(anonymous.headers.get('www-authenticate')), /^Bearer/);
    assert.equal(((await anonymous.json()) as { code: string }).code, 'invalid_token');

    const json = { 'content-type': 'application/json' };
    const email = uniqueEmail();
    assert.equal((await fetch(`${url}/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) })).status, 201);
    const login = await fetch(`${url}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) });
    const bearer = { authorization: `Bearer ${((await login.json()) as { accessToken: string }).accessToken}` };
    assert.equal((await fetch(`${url}/api/elsewhere`, { headers: bearer })).status, 404, 'a signed-in caller passes the proxy to Next.js routing');

    // The proxy shares the route handlers' core: the logout's revocation is in its list when the logout answers.
    assert.equal((await fetch(`${url}/auth/logout`, { method: 'POST', headers: bearer })).status, 204);
    const revoked = await fetch(`${url}/api/elsewhere`, { headers: bearer });
    assert.equal(revoked.status, 401);
    assert.equal(((await revoked.json()) as { code: string }).code, 'session_revoked');
  });

  test('the published package carries the example, not its node_modules, build or database', () => {
    // Run after install and build, when examples/next-app/node_modules and .next exist.
    assert.ok(existsSync(join(appDir, 'node_modules', 'next')) && existsSync(join(appDir, '.next', 'BUILD_ID')));
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    assert.equal(pack.status, 0, pack.stderr);
    const [{ files }] = JSON.parse(pack.stdout) as [{ files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    assert.ok(paths.includes('examples/next-app/app/notes.tsx'), 'the example is published');
    assert.deepEqual(paths.filter((p) => /^examples\/[^/]+\/(node_modules|\.next|data)\//.test(p)), []);
  });

  test('the browser bundles carry no server code: tokenstile is loaded by Node at run time', () => {
    const files = readdirSync(join(appDir, '.next', 'static'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    assert.ok(files.length > 0, 'the build has browser chunks');
    for (const file of files) {
      const code = readFileSync(join(appDir, '.next', 'static', file), 'utf8');
      assert.doesNotMatch(code, /node:sqlite|createFetchHandler|node:crypto/, file);
    }
  });

  const noBrowser = existsSync(chromiumPath) ? null : `no Chromium at ${chromiumPath} (apt-get install -y chromium, or set TOKENSTILE_TEST_CHROMIUM)`;
  if (noBrowser !== null && ci) throw new Error(`the next-app browser test cannot run under CI=true: ${noBrowser}`);
  if (noBrowser !== null) console.log(`# SKIPPED examples/next-app in Chromium: ${noBrowser}`);

  test('in Chromium: create an account on the page, add a note, see it after a reload, sign out', { skip: noBrowser ?? false }, async () => {
    const browser: Browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(url, { timeout: 60_000 });
      const email = uniqueEmail();
      await page.fill('input[name=email]', email, { timeout: 30_000 });
      await page.fill('input[name=password]', goodPassword);
      await page.click('button[name=register]');
      await page.waitForSelector('#who', { timeout: 30_000 });
      assert.equal(await page.textContent('#who'), email);
      assert.ok(await page.isVisible('#no-notes'), 'a new account has no notes');

      await page.fill('input[name=text]', 'water the plants');
      await page.click('#add-note button[type=submit]');
      await page.waitForSelector('#notes li', { timeout: 30_000 });
      assert.deepEqual(await page.locator('#notes li').allTextContents(), ['water the plants']);

      const cookies = await page.context().cookies();
      assert.ok(cookies.some((c) => c.httpOnly && c.name.startsWith('__Host-')), 'signed in with the HttpOnly cookie transport');

      // A reload resumes the session from its cookies and lists the notes again (from the server).
      await page.reload();
      await page.waitForSelector('#notes li', { timeout: 30_000 });
      assert.deepEqual(await page.locator('#notes li').allTextContents(), ['water the plants']);

      await page.click('text=Sign out');
      await page.waitForSelector('#sign-in', { timeout: 30_000 });
      const afterLogout = await page.evaluate(async () => (await fetch('/api/notes')).status);
      assert.equal(afterLogout, 401, 'the cookies no longer reach the notes');
      assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
    } finally {
      await browser.close();
    }
  });
});
