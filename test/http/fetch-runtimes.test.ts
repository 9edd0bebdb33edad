// The fetch handler (`tokenstile/fetch`) in Bun and in Deno, from the built package as a user
// installs it: the packed tarball installed into an empty project (from the local npm cache), one
// small server script per runtime (test/http/runtimes/), each started with the runtime binary of
// the devDependencies `bun` and `deno` and driven over HTTP: register, login, a protected call,
// logout, then 401. Both serve SQLite through their own `node:sqlite`. Needs `npm run build`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { npmInstall, packRoot } from '../packed-package.ts';
import { freePort } from '../scale/harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ci = process.env.CI === 'true';

interface Runtime {
  readonly name: string;
  readonly binary: string;
  readonly script: string;
  /** The command line that runs `script` in `project`. */
  args(project: string): string[];
}

const runtimes: Runtime[] = [
  { name: 'Bun', binary: join(root, 'node_modules/.bin/bun'), script: 'bun-server.ts', args: () => ['bun-server.ts'] },
  {
    name: 'Deno',
    binary: join(root, 'node_modules/.bin/deno'),
    script: 'deno-server.ts',
    // What it needs, no more: the native argon2 module is loaded through FFI, and the password
    // hasher sizes its pool with os.availableParallelism() (--allow-sys); without either, the
    // first password hash fails and sign-up answers 500.
    args: (project) => ['run', '--no-prompt', '--allow-net=127.0.0.1', '--allow-env', `--allow-read=${project}`, `--allow-write=${project}`, '--allow-ffi', '--allow-sys', 'deno-server.ts'],
  },
];

/** Why `runtime` cannot run here, or null. */
function missing(runtime: Runtime): string | null {
  if (!existsSync(runtime.binary)) return `no ${runtime.binary} (the devDependency ${runtime.name.toLowerCase()} is not installed)`;
  const version = spawnSync(runtime.binary, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return version.status === 0 ? null : `${runtime.binary} --version failed: ${`${version.stderr}${version.error?.message ?? ''}`.trim()}`;
}

/** An empty project with the packed package installed; null (and why) when it cannot be made. */
async function installPackage(): Promise<{ project: string } | { skip: string }> {
  const project = mkdtempSync(join(tmpdir(), 'tokenstile-runtimes-'));
  after(() => rmSync(project, { recursive: true, force: true }));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'tokenstile-runtime-check', private: true, type: 'module' }));
  const outcome = await npmInstall(project, [await packRoot(project)]);
  if (!outcome.ok) return { skip: outcome.reason };
  console.log(`# npm install of the packed package took ${outcome.ms} ms${outcome.offline ? ' (offline, from the npm cache)' : ''}`);
  return { project };
}

/** The runtime serving its script on `port`; resolves once it says it listens. */
async function start(runtime: Runtime, project: string, port: number) {
  const child = spawn(runtime.binary, runtime.args(project), {
    cwd: project,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), TOKENSTILE_DATABASE_URL: `sqlite:${join(project, 'data', `${runtime.script}.db`)}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('listening on')) resolve();
    });
    child.stderr.on('data', (d) => (out += d));
    void exited.then((code) => reject(new Error(`${runtime.name} exited with ${code}: ${out}`)));
    // Generous for a busy machine; the wait ends as soon as it listens.
    setTimeout(() => reject(new Error(`${runtime.name} did not listen within 60 s: ${out}`)), 60_000).unref();
  });
  return {
    output: () => out,
    /** SIGTERM, then the exit code (null: killed after 15 s without exiting). */
    async stop(): Promise<number | null> {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 15_000).unref());
      if ((await Promise.race([exited, late])) !== 'late') return exited;
      child.kill('SIGKILL');
      await exited;
      return null;
    },
  };
}

const reasons = new Map(runtimes.map((r) => [r.name, missing(r)]));
const installed = [...reasons.values()].every((r) => r !== null) ? null : await installPackage();
if (installed !== null && 'skip' in installed) for (const r of runtimes) if (reasons.get(r.name) === null) reasons.set(r.name, installed.skip);

for (const runtime of runtimes) {
  const skip = reasons.get(runtime.name) ?? null;
  if (skip !== null && ci) throw new Error(`${runtime.name} cannot run under CI=true: ${skip}`);
  if (skip !== null) console.log(`# SKIPPED the fetch handler in ${runtime.name}: ${skip}`);

  describe(`the fetch handler in ${runtime.name}, from the installed package`, { skip: skip ?? false }, () => {
    let server: Awaited<ReturnType<typeof start>>;
    let url: string;
    before(async () => {
      const { project } = installed as { project: string };
      copyFileSync(join(root, 'test/http/runtimes', runtime.script), join(project, runtime.script));
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      server = await start(runtime, project, port);
      console.log(`# ${server.output().trim().split('\n').at(-1)}`);
    });
    after(() => server?.stop());

    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

    test('the protected route without a token: 401 problem+json with a Bearer challenge', async () => {
      const res = await fetch(`${url}/api/notes`);
      assert.equal(res.status, 401, server.output());
      assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
      assert.match(String(res.headers.get('www-authenticate')), /^Bearer/);
      assert.equal(((await res.json()) as { code: string }).code, 'invalid_token');
    });

    test('register, login, a protected call, logout: then 401 session_revoked', async () => {
      const email = uniqueEmail();
      const registered = await post('/auth/register', { email, password: goodPassword });
      assert.equal(registered.status, 201, `${await registered.text()}\n${server.output()}`);
      const login = await post('/auth/login', { email, password: goodPassword });
      assert.equal(login.status, 200, server.output());
      const tokens = (await login.json()) as { accessToken: string; user: { id: string } };
      const bearer = { authorization: `Bearer ${tokens.accessToken}` };
      const notes = await fetch(`${url}/api/notes`, { headers: bearer });
      assert.equal(notes.status, 200);
      assert.deepEqual(await notes.json(), { userId: tokens.user.id, notes: [] });
      assert.equal(((await (await fetch(`${url}/auth/me`, { headers: bearer })).json()) as { email: string }).email, email);

      assert.equal((await post('/auth/logout', {}, bearer)).status, 204);
      const gone = await fetch(`${url}/api/notes`, { headers: bearer });
      assert.equal(gone.status, 401);
      assert.equal(((await gone.json()) as { code: string }).code, 'session_revoked');
      assert.equal((await fetch(`${url}/auth/me`, { headers: bearer })).status, 401);
    });

    test('SIGTERM closes the handler and the runtime exits 0', async () => {
      assert.equal(await server.stop(), 0, server.output());
    });
  });
}
