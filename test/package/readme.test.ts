// The README as a new user and the npm page read it: its example runs as written, it states the
// Node version package.json enforces, and its links (and the guides') reach files that ship.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; repository?: { type: string; url: string } };

test('one Node version: package.json "engines" is the only place it is written, and the README states it', () => {
  const match = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
  assert.ok(match, `engines.node is ${pkg.engines.node}`);
  const version = `${match[1]}.${match[2]}`;
  assert.match(readme, new RegExp(`Requires Node\\.js ${version.replace('.', '\\.')} or newer`));
  for (const other of readme.matchAll(/Node(?:\.js)? *(?:≥|>=) *\d+(?:\.\d+)?|\b\d{2}\.\d{1,2}\+/g)) assert.fail(`the README also says ${other[0]}`);
  for (const file of ['bin/tokenstile.js', 'scripts/node.mjs']) {
    const source = readFileSync(join(root, file), 'utf8');
    assert.match(source, /engines\.node/, `${file} does not read package.json engines`);
    assert.doesNotMatch(source, /\b(?:minor|major) *[<>]=? *\d+|\d{2}\.\d{1,2}\b/, `${file} writes a version of its own`);
  }
});

test('package.json names its repository, and every relative link of the README and docs reaches a file that is published', async () => {
  assert.equal(pkg.repository?.type, 'git');
  assert.match(pkg.repository.url, /^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/);
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: root });
  const shipped = new Set((JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  let links = 0;
  for (const page of pages) {
    assert.ok(shipped.has(page), `${page} is not published`);
    for (const [, target] of readFileSync(join(root, page), 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target!)) continue;
      const path = normalize(join(dirname(page), target!.split('#')[0]!));
      const published = shipped.has(path) || [...shipped].some((f) => f.startsWith(`${path}/`));
      assert.ok(published, `${page} links to ${target}, which is not in the package`);
      links++;
    }
  }
  assert.ok(links > 20, `only ${links} links checked`);
});

test('the README\'s curl example runs as written: $ACCESS is set, /auth/me answers, and after logout it is 401 session_revoked', { timeout: 120_000 }, async (t) => {
  const missing = ['curl', 'bash'].filter((tool) => !['/usr/bin', '/bin', '/usr/local/bin'].some((d) => existsSync(join(d, tool))));
  if (missing.length > 0) {
    t.skip(`${missing.join(' and ')} not installed`);
    return;
  }
  const example = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.includes('$ACCESS'));
  assert.ok(example, 'no example uses $ACCESS');
  assert.match(example, /^ACCESS=/m, 'the example does not show how $ACCESS is set');
  const server = spawn(process.execPath, ['bin/tokenstile.js', 'serve'], {
    cwd: root,
    env: { ...process.env, PORT: '0', TOKENSTILE_DATABASE_URL: 'sqlite::memory:', TOKENSTILE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      server.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${out}`)));
    });
    const script = `set -eo pipefail\n${example.replaceAll('localhost:3000', `localhost:${port}`)}`;
    const { stdout } = await run('bash', ['-c', script], { cwd: root });
    // The answers run together (no newlines): /auth/me with the session, the 204 (empty), the 401.
    assert.match(stdout, /\{"id":"[^"]+","email":"ada@example\.com","name":null,"emailVerified":false,"sessionId":"[^"]+"\}\{"type":"urn:tokenstile:error:session_revoked"[^}]*\}$/, stdout);
  } finally {
    server.kill('SIGTERM');
  }
});
