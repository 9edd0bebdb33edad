#!/usr/bin/env node
// The published entry point: checks the Node version against package.json "engines" (the one place
// it is written), then runs the compiled CLI.
import { readFileSync } from 'node:fs';

const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const needed = engines.node.replace(/^>=\s*/, '');
const [needMajor, needMinor] = needed.split('.').map(Number);
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  process.stderr.write(`tokenstile needs Node.js ${needed} or newer (24 LTS recommended); this is ${process.version}.\n`);
  process.exit(1);
}
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  process.stderr.write('tokenstile: dist/ is missing; run `npm run build` first (npm start does it for you).\n');
  process.exit(1);
}
const code = await cli.runCli(process.argv.slice(2));
if (code !== 0) process.exitCode = code;
