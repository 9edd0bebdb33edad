// The runnable examples (examples/express-app, …) started as a user starts them — their own
// folder, `npm start`'s command, `tokenstile` resolved as its `file:../..` install links it —
// and driven over HTTP. Needs `npm run build` (the examples import the built package).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notesAppChecks } from './notes-app-checks.ts';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../scale/harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A copy of the example with the node_modules `npm install` would link: tokenstile → the root, its framework from the root's. */
function install(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tokenstile-${name}-`));
  cpSync(join(root, 'examples', name), dir, { recursive: true, filter: (src) => !/\/(node_modules|data)$/.test(src) });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; scripts: { start: string } };
  assert.equal(manifest.dependencies.tokenstile, 'file:../..', 'the example depends on the root package');
  mkdirSync(join(dir, 'node_modules', '@hono'), { recursive: true });
  for (const dep of Object.keys(manifest.dependencies)) {
    symlinkSync(dep === 'tokenstile' ? root : join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
  }
  return dir;
}

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

for (const name of ['express-app', 'hono-app']) {
  describe(`examples/${name}`, async () => {
    const dir = install(name);
    const port = await freePort();
    const app = await start(dir, port);
    const url = `http://127.0.0.1:${port}`;
    after(async () => {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    notesAppChecks(() => url);

    test('the database is SQLite in the example folder', async () => {
      assert.ok(readFileSync(join(dir, 'data', 'tokenstile.db')).length > 0, app.output());
    });
  });
}
