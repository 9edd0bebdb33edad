// `npm start`: builds the app when there is no build or a source file is newer than it, then
// serves it with `next start` on PORT (default 3000). Telemetry is off; nothing is fetched.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const next = join(here, 'node_modules', 'next', 'dist', 'bin', 'next');
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', PORT: process.env.PORT ?? '3000' };

/** The newest modification time under the app's sources. */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

const built = join(here, '.next', 'BUILD_ID');
const sources = ['app', 'lib', 'proxy.ts', 'next.config.ts', 'package.json'].map((p) => join(here, p)).filter(existsSync);
if (!existsSync(built) || Math.max(...sources.map(newest)) > statSync(built).mtimeMs) {
  const build = spawnSync(process.execPath, [next, 'build'], { cwd: here, env, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const server = spawn(process.execPath, [next, 'start', '-p', env.PORT], { cwd: here, env, stdio: 'inherit' });
// Pass a stop on to the server once, and end with it: no orphaned server after SIGTERM.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
