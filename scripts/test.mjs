#!/usr/bin/env node
// `npm test`: every suite once (SQLite, plus the store suites on each reachable backend), then the
// HTTP behaviour suites again: with the app on PostgreSQL + Redis (feed, rate limits and cache on
// Redis), in strict mode, and with opaque access tokens (on SQLite, and on PostgreSQL + Redis).
// A missing server skips that run with a loud line, or fails it under CI=true. Ends with one
// combined "N passed, N failed" line.
import { spawn } from 'node:child_process';
// The same probe the scale tests use (Node 24 loads the .ts module directly).
import { sharedServicesProblem } from '../test/scale/harness.ts';

const behaviour = [
  'auth-routes', 'account-routes', 'real-logout', 'bad-input', 'forged-tokens',
  'rate-limits', 'metrics', 'instance-clock-skew', 'interop', 'session-cache', 'access-modes', 'oauth', 'revocation-stream', 'cookie-transport', 'cors', 'session-status',
  'session-lifetime', 'grace-retry', 'look-alike-accounts',
].map((name) => `test/http/${name}.test.ts`);
// Resource-server suites: JWT access tokens verified outside the auth server (the SDK, jose).
const resourceServer = ['test/http/oauth-interop.test.ts', ...['verifier', 'adapters', 'key-rotation'].map((name) => `test/verify/${name}.test.ts`)];

const runs = [
  { title: 'all suites', env: {}, args: ['test/**/*.test.ts'] },
  { title: 'behaviour suites on PostgreSQL + Redis', env: { TOKENSTILE_TEST_APP_BACKEND: 'postgres+redis' }, args: [...behaviour, ...resourceServer], needs: true },
  { title: 'behaviour suites in strict mode (TOKENSTILE_REVOCATION_CHECK=strict)', env: { TOKENSTILE_TEST_APP_MODE: 'strict' }, args: behaviour },
  { title: 'behaviour suites with opaque access tokens', env: { TOKENSTILE_TEST_APP_MODE: 'opaque' }, args: behaviour },
  {
    title: 'behaviour suites with opaque access tokens on PostgreSQL + Redis',
    env: { TOKENSTILE_TEST_APP_BACKEND: 'postgres+redis', TOKENSTILE_TEST_APP_MODE: 'opaque' },
    args: behaviour,
    needs: true,
  },
];

function run(env, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('exit', (code) => {
      const count = (name) => Number(out.match(new RegExp(`^ℹ ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
      resolve({ code: code ?? 1, passed: count('pass'), failed: count('fail'), tests: count('tests') });
    });
  });
}

let passed = 0;
let failed = 0;
let ok = true;
for (const r of runs) {
  process.stdout.write(`\n# ${r.title}\n`);
  if (r.needs) {
    const problem = await sharedServicesProblem();
    if (problem) {
      process.stdout.write(`# SKIPPED ${r.title}: ${problem}\n`);
      if (process.env.CI === 'true') {
        process.stdout.write('# CI=true: a missing server is a failure\n');
        failed += 1;
        ok = false;
      }
      continue;
    }
  }
  const result = await run(r.env, r.args);
  passed += result.passed;
  failed += result.failed;
  if (result.code !== 0 || result.tests === 0) ok = false;
}
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed\n`);
process.exit(ok && failed === 0 ? 0 : 1);
