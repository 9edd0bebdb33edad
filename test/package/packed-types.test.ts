// The published type declarations as a user gets them: `npm pack` (after `npm run build`), installed
// into a fresh project with the newest TypeScript and @types/node from the registry (and the
// optional peers express and hono), then a file importing every subpath compiled with
// skipLibCheck off: every declaration file it reaches is checked, ours and their references.
// The same for @tokenstile/verify, first alone (no express, hono or server installed), then with
// the optional peers for its adapters.
// Needs the npm registry; without it the test is skipped (failed under CI=true) with the reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
const subpaths = Object.keys(pkg.exports).filter((p) => p !== './package.json').map((p) => (p === '.' ? 'tokenstile' : `tokenstile/${p.slice(2)}`));

const registryDown = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|network|request to .* failed/i;

test('the packed package type-checks with the newest TypeScript and @types/node, skipLibCheck off', { timeout: 5 * 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenstile-types-'));
  try {
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent'], { cwd: root });
    const filename = (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    try {
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-online', join(dir, filename), 'typescript@latest', '@types/node@latest', 'express', '@types/express', 'hono'], {
        cwd: dir,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      const why = String((err as { stderr?: string }).stderr ?? err);
      if (registryDown.test(why) && process.env.CI !== 'true') {
        t.skip(`the npm registry is unreachable: ${why.split('\n').find((l) => registryDown.test(l))}`);
        return;
      }
      throw err;
    }
    const installed = (name: string) => (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    t.diagnostic(`typescript ${installed('typescript')}, @types/node ${installed('@types/node')}`);
    writeFileSync(
      join(dir, 'index.ts'),
      `${subpaths.map((s, i) => `import * as m${i} from '${s}';`).join('\n')}\nexport const modules = [${subpaths.map((_, i) => `m${i}`).join(', ')}];\n`,
    );
    const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'] };
    // With the DOM library (TypeScript's default) and without it (a Node-only project).
    for (const [name, lib] of [['dom', undefined], ['node-only', ['es2023']]] as const) {
      writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...compilerOptions, ...(lib && { lib }) }, files: ['index.ts'] }));
      const result = await run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', `tsconfig.${name}.json`], { cwd: dir }).then(
        () => '',
        (err: { stdout?: string }) => err.stdout ?? String(err),
      );
      assert.equal(result, '', `tsc (${name}) found errors in the published declarations:\n${result}`);
    }
    assert.ok(subpaths.length >= 6, subpaths.join(', '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the packed @tokenstile/verify type-checks alone, and its adapters with the peers installed, skipLibCheck off', { timeout: 5 * 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenstile-verify-types-'));
  try {
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent'], { cwd: join(root, 'packages/verify') });
    const filename = (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const install = async (specs: string[]) => {
      try {
        await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-online', ...specs], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
        return true;
      } catch (err) {
        const why = String((err as { stderr?: string }).stderr ?? err);
        if (registryDown.test(why) && process.env.CI !== 'true') {
          t.skip(`the npm registry is unreachable: ${why.split('\n').find((l) => registryDown.test(l))}`);
          return false;
        }
        throw err;
      }
    };
    const check = async (entries: string[]) => {
      writeFileSync(join(dir, 'index.ts'), `${entries.map((s, i) => `import * as m${i} from '${s}';`).join('\n')}\nexport const modules = [${entries.map((_, i) => `m${i}`).join(', ')}];\n`);
      const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'], lib: ['es2023'] };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['index.ts'] }));
      return run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir }).then(
        () => '',
        (err: { stdout?: string }) => err.stdout ?? String(err),
      );
    };
    if (!(await install([join(dir, filename), 'typescript@latest', '@types/node@latest']))) return;
    assert.equal(await check(['@tokenstile/verify']), '', 'the declarations need a package a verify-only install does not have');
    if (!(await install(['express', '@types/express', 'hono']))) return;
    const all = ['@tokenstile/verify', '@tokenstile/verify/express', '@tokenstile/verify/hono'];
    assert.equal(await check(all), '', 'the adapters\' declarations do not compile');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
