// The built package as a user installs it: `npm pack` of the root (after `npm run build`), then
// `npm install` of the tarball into a project of the test's, from the local npm cache first.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../', import.meta.url));

/** Errors that mean the npm registry could not be reached (rather than a broken install). */
const registryDown = /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH)|network|socket hang up|request to .* failed/i;

/** `npm pack` of the built root package into `dir`; the tarball's path. */
export async function packRoot(dir: string): Promise<string> {
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('the package is not built: run `npm run build` at the root first');
  const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  return join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
}

/** How an install went: how long it took and whether the cache sufficed, or why it could not run. */
export type InstallOutcome = { readonly ok: true; readonly ms: number; readonly offline: boolean } | { readonly ok: false; readonly reason: string };

/**
 * `npm install [specs…]` in `project`: from the local cache alone (`--offline`), else with the
 * registry for what the cache lacks (`--prefer-offline`). Without the registry the outcome says
 * why (for a printed skip); under CI=true that, like any other failure, throws.
 */
export async function npmInstall(project: string, specs: readonly string[] = []): Promise<InstallOutcome> {
  const started = performance.now();
  const install = (mode: string) => run('npm', ['install', '--no-audit', '--no-fund', mode, ...specs], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
  try {
    await install('--offline');
    return { ok: true, ms: Math.round(performance.now() - started), offline: true };
  } catch (err) {
    if (!/ENOTCACHED/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
  }
  try {
    await install('--prefer-offline');
    return { ok: true, ms: Math.round(performance.now() - started), offline: false };
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr ?? err);
    if (registryDown.test(why) && process.env.CI !== 'true') {
      return { ok: false, reason: `the npm cache lacks packages and the registry is unreachable: ${why.split('\n').find((l) => registryDown.test(l))}` };
    }
    throw err;
  }
}
