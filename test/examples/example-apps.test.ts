// The runnable examples (examples/express-app, …) installed and started as a user does: a copy of
// the example's folder whose `tokenstile` dependency is the packed package (`npm pack` of the
// built root) instead of `file:../..`, `npm install` in it (from the local npm cache first), then
// `npm start`'s command, driven over HTTP. Needs `npm run build`. Without the npm registry, when
// the cache lacks a package, the copy links what `npm install` of `file:../..` would link (the
// root, and the root's copies of the frameworks) and says so: the app is still tested, the
// install is not.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notesAppChecks } from './notes-app-checks.ts';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { npmInstall, packRoot } from '../packed-package.ts';
import { freePort } from '../scale/harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = ['express-app', 'hono-app'];

const workspace = mkdtempSync(join(tmpdir(), 'tokenstile-examples-'));
after(() => rmSync(workspace, { recursive: true, force: true }));
const tarball = await packRoot(workspace);

/** A copy of the example with its dependencies installed; the tarball stands for `file:../..`. */
async function install(name: string): Promise<string> {
  const dir = join(workspace, name);
  cpSync(join(root, 'examples', name), dir, { recursive: true, filter: (src) => !/\/(node_modules|data)$/.test(src) });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(manifest.dependencies.tokenstile, 'file:../..', 'the example depends on the root package');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...manifest, dependencies: { ...manifest.dependencies, tokenstile: `file:${tarball}` } }, null, 2));
  const outcome = await npmInstall(dir);
  if (outcome.ok) {
    console.log(`# examples/${name}: npm install took ${outcome.ms} ms${outcome.offline ? ' (offline, from the npm cache)' : ''}`);
    return dir;
  }
  console.log(`# examples/${name}: not installed (${outcome.reason}); linked as \`npm install\` of file:../.. links it`);
  mkdirSync(join(dir, 'node_modules', '@hono'), { recursive: true });
  for (const dep of Object.keys(manifest.dependencies)) symlinkSync(dep === 'tokenstile' ? root : join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
  return dir;
}

// Both at once: the installs wait on the disk and the cache more than on the CPU.
const installs = new Map(examples.map((name) => [name, install(name)]));

/** Starts the example's `npm start` command in its folder; resolves once it says it listens. */
async function start(dir: string, port: number): Promise<{ stop: () => Promise<number | null>; output: () => string }> {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [command, ...args] = manifest.scripts.start.split(' ');
  assert.equal(command, 'node');
  const child = spawn(process.execPath, args, { cwd: dir, env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('listening on')) resolve();
    });
    child.stderr.on('data', (d) => (out += d));
    void exited.then((code) => reject(new Error(`the example exited with ${code}: ${out}`)));
    // Generous: a busy machine starts Node slowly; the wait ends as soon as it listens.
    setTimeout(() => reject(new Error(`the example did not listen within 60 s: ${out}`)), 60_000).unref();
  });
  return {
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

for (const name of examples) {
  describe(`examples/${name}`, () => {
    let dir: string;
    let app: Awaited<ReturnType<typeof start>>;
    let url: string;
    before(async () => {
      dir = await installs.get(name)!;
      const port = await freePort();
      app = await start(dir, port);
      url = `http://127.0.0.1:${port}`;
    });
    after(() => app?.stop());
    notesAppChecks(() => url);

    test('the database is SQLite in the example folder', async () => {
      assert.ok(readFileSync(join(dir, 'data', 'tokenstile.db')).length > 0, app.output());
    });
  });
}
