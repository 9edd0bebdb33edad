#!/usr/bin/env node
// Runs `node <args>` on a Node new enough for Tokenstile (package.json "engines", the one place the
// version is written: it runs .ts files and has node:sqlite). On an older Node it says so and runs
// the same arguments on Node 24 LTS fetched from the npm registry with npx, so `npm start` and
// `npm test` work on a fresh machine as written.
// Signals are passed on, so Ctrl-C and SIGTERM stop the server gracefully either way; the child
// must tolerate a repeat (Ctrl-C reaches it from the terminal too), as `tokenstile serve` does.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const needed = engines.node.replace(/^>=\s*/, '');
const [needMajor, needMinor] = needed.split('.').map(Number);
const [major, minor] = process.versions.node.split('.').map(Number);
const modern = major > needMajor || (major === needMajor && minor >= needMinor);
const args = process.argv.slice(2);

let child;
if (modern) {
  child = spawn(process.execPath, args, { stdio: 'inherit' });
} else {
  process.stderr.write(
    `Node ${process.version} is older than Tokenstile needs (${needed}+, 24 LTS recommended);\n` +
      'running on node@24 from the npm registry instead (install it for good with `npm install -g node@24`).\n',
  );
  child = spawn('npx', ['--yes', 'node@24', ...args], { stdio: 'inherit' });
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
// `npm start` runs us through `sh -c`, and dash does not pass SIGTERM on: npm's SIGTERM ends the
// shell and would leave us and the server running, orphaned. So when our parent goes away, stop the
// child as if it had been sent SIGTERM.
const parent = process.ppid;
const orphanWatch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(orphanWatch);
  child.kill('SIGTERM');
}, 200);
child.on('error', (err) => {
  process.stderr.write(`could not start node: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
