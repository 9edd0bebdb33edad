#!/usr/bin/env node
// The published entry point: checks the Node version, then runs the compiled CLI.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`tokenstile needs Node.js 22.13 or newer (24 LTS recommended); this is ${process.version}.\n`);
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
