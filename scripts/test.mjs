#!/usr/bin/env node
// `npm test`: every suite once (SQLite, plus the store suites on each reachable backend), then the
// HTTP behaviour suites again: with the app on PostgreSQL + Redis (feed, rate limits and cache on
// Redis), in strict mode, with opaque access tokens (on SQLite, and on PostgreSQL + Redis), and
// served by the Node `(req, res)` and the Web `fetch` adapters instead of Fastify (on SQLite, with the
// resource-server suites: verifiers fed by the revocation stream through each adapter).
// A missing server skips that run with a loud line, or fails it under CI=true. Ends with one
// combined "N passed, N failed" line.
//
// `node scripts/test.mjs [--repeat N] FILE…` runs only those files (N times; the env picks the
// backend and mode as above), e.g. to run a suite that failed again.
//
// TOKENSTILE_TEST_LOAD=1 runs everything beside busy-loop processes, one per core
// (TOKENSTILE_TEST_LOAD_WORKERS=n to choose), to show that the suites pass on a loaded machine.
// The workers are killed when the tests end, and end by themselves after 60 minutes or as soon as
// this process is gone.
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
// The same probe the scale tests use (Node 24 loads the .ts module directly).
import { sharedServicesProblem } from '../test/scale/harness.ts';

const behaviour = [
  'auth-routes', 'account-routes', 'real-logout', 'bad-input', 'forged-tokens',
  'rate-limits', 'metrics', 'instance-clock-skew', 'interop', 'session-cache', 'access-modes', 'oauth', 'revocation-stream', 'cookie-transport', 'cors', 'session-status',
  'session-lifetime', 'grace-retry', 'look-alike-accounts',
].map((name) => `test/http/${name}.test.ts`).concat('test/features/memo-feature.test.ts');
behaviour.push(...['password-reset', 'email-verification', 'email-change', 'magic-link', 'recovery-smtp'].map((name) => `test/features/recovery/${name}.test.ts`));
behaviour.push('test/features/social/social-sign-in.test.ts', 'test/features/social/social-flow-security.test.ts');
// The Shared Signals transmitter: stream management, push and poll receivers written with jose.
behaviour.push(...['ssf-streams', 'ssf-push', 'ssf-poll', 'ssf-store'].map((name) => `test/features/ssf/${name}.test.ts`));
behaviour.push('test/features/mfa/totp-routes.test.ts', 'test/features/mfa/mfa-limits.test.ts', 'test/features/passkeys/passkey-routes.test.ts');
behaviour.push(...['push-delivery', 'poll-delivery', 'provider-subjects'].map((name) => `test/features/ssf-receiver/${name}.test.ts`));
// Where the features meet: one sign-in policy across the sign-in methods.
behaviour.push('test/features/sign-in-policy.test.ts', 'test/features/social/social-gates.test.ts');
// DPoP (RFC 9449): binding at sign-in and proofs on protected routes.
behaviour.push('test/dpop/dpop-routes.test.ts', 'test/dpop/dpop-replay.test.ts', 'test/dpop/dpop-sign-ins.test.ts', 'test/dpop/dpop-review.test.ts');
// Behaviour that must be the same whatever adapter serves the routes, beside the list above.
const sameOnEveryAdapter = ['trust-proxy', 'openapi', 'security-headers'].map((name) => `test/http/${name}.test.ts`);
// Resource-server suites: JWT access tokens verified outside the auth server (the SDK, jose).
const resourceServer = ['test/http/oauth-interop.test.ts', 'test/http/dpop-interop.test.ts', ...['verifier', 'adapters', 'key-rotation'].map((name) => `test/verify/${name}.test.ts`), 'test/dpop/dpop-verify.test.ts'];

const argv = process.argv.slice(2);
const repeatAt = argv.indexOf('--repeat');
const repeat = repeatAt === -1 ? 1 : Number(argv.splice(repeatAt, 2)[1]);
if (!Number.isInteger(repeat) || repeat < 1) {
  process.stderr.write('usage: node scripts/test.mjs [--repeat N] [FILE…] (N a whole number ≥ 1)\n');
  process.exit(2);
}

const allRuns = [
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
  { title: 'behaviour suites on the Node (req, res) adapter (TOKENSTILE_TEST_ADAPTER=node)', env: { TOKENSTILE_TEST_ADAPTER: 'node' }, args: [...behaviour, ...sameOnEveryAdapter, ...resourceServer] },
  { title: 'behaviour suites on the Web fetch adapter (TOKENSTILE_TEST_ADAPTER=fetch)', env: { TOKENSTILE_TEST_ADAPTER: 'fetch' }, args: [...behaviour, ...sameOnEveryAdapter, ...resourceServer] },
];
const runs =
  argv.length === 0 ? allRuns : Array.from({ length: repeat }, (_, i) => ({ title: `${argv.join(' ')}${repeat > 1 ? ` (run ${i + 1} of ${repeat})` : ''}`, env: {}, args: argv }));

/** Busy-loop processes for TOKENSTILE_TEST_LOAD; none when it is unset. */
function startLoad() {
  const setting = process.env.TOKENSTILE_TEST_LOAD ?? '';
  if (setting === '' || setting === '0' || setting === 'false') return [];
  const count = Number(process.env.TOKENSTILE_TEST_LOAD_WORKERS ?? availableParallelism());
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write(`TOKENSTILE_TEST_LOAD_WORKERS must be a whole number ≥ 1, got ${JSON.stringify(process.env.TOKENSTILE_TEST_LOAD_WORKERS)}\n`);
    process.exit(2);
  }
  // Spins, looking up every 100 ms whether its parent (this process) is still there.
  const code = `const parent = process.ppid, end = Date.now() + 3_600_000; let check = 0;
for (;;) { const now = Date.now(); if (now > check) { if (now > end || process.ppid !== parent) process.exit(0); check = now + 100; } }`;
  const workers = Array.from({ length: count }, () => spawn(process.execPath, ['-e', code], { stdio: 'ignore' }));
  process.stdout.write(`# background load: ${count} busy-loop processes (pids ${workers.map((w) => w.pid).join(', ')})\n`);
  return workers;
}

function stopLoad(workers) {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
}

const load = startLoad();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    stopLoad(load);
    process.kill(process.pid, signal);
  });
}

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
if (load.length > 0) process.stdout.write(`\n# background load: ${load.length} busy-loop processes; load average ${loadavg().map((l) => l.toFixed(1)).join(', ')}\n`);
stopLoad(load);
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed\n`);
process.exit(ok && failed === 0 ? 0 : 1);
