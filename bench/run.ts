// The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (under 2 minutes).
// Starts what it needs on loopback (server processes on free ports, schemas and key prefixes of
// its own, cleaned up), prints progress on stderr, and writes BENCHMARKS.md and
// bench/protected-route.svg. Each scenario that cannot run says why in the report instead of
// stopping the run or inventing a figure.
// `node bench/frameworks.ts [--quick]` runs only the Express/Hono and per-adapter scenarios.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { postgresUrl, redisUrl, sharedServicesProblem } from '../test/scale/harness.ts';
import { adapterAuthSection, frameworkProtectSection } from './lib/frameworks-report.ts';
import { barChart, table, targetsTable, type TargetResult } from './lib/report.ts';
import { load, startProtectedServer } from './lib/processes.ts';
import { count, ms, ratio } from './lib/stats.ts';
import { logoutGuarantee } from './scenarios/guarantee.ts';
import { adapterAuth, frameworkProtectedRoute } from './scenarios/frameworks.ts';
import { coldStart, loginsUnderLoad, propagation } from './scenarios/instances.ts';
import { pct } from '../test/scale/guarantee-workload.ts';
import { protectedRoute, variants } from './scenarios/protected-route.ts';
import { refreshThroughput, type RefreshResult } from './scenarios/refresh.ts';
import { mfaLogin, mfaLoginSection } from './scenarios/mfa-login.ts';
import { dpopProtectedRoute, dpopSection } from './scenarios/dpop.ts';

const quick = process.argv.includes('--quick');
const started = performance.now();
const progress = (s: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${s}\n`);
const p = quick
  ? { seconds: 3, rounds: 1, authSeconds: 2, refreshSeconds: 3, loginSeconds: 4, logouts: 30, guaranteeCycles: 10, coldRuns: 1, bigSessions: 1_000_000, pgGrowth: false }
  : { seconds: 10, rounds: 3, authSeconds: 5, refreshSeconds: 10, loginSeconds: 10, logouts: 200, guaranteeCycles: 50, coldRuns: 3, bigSessions: 1_000_000, pgGrowth: true };
const services = await sharedServicesProblem();
const sections: string[] = [];
const targets: TargetResult[] = [];

/** Runs a scenario; a failure becomes a line in the report, not the end of the run. */
async function scenario<T>(name: string, fn: () => Promise<T>): Promise<T | string> {
  progress(`${name} …`);
  try {
    return await fn();
  } catch (err) {
    progress(`${name} failed: ${(err as Error).message}`);
    return `failed in this run: ${(err as Error).message.split('\n')[0]}`;
  }
}

// 1. Protected route, every variant side by side.
const routes = await scenario('protected route', () => protectedRoute({ seconds: p.seconds, rounds: p.rounds, redisUrl, progress }));
if (typeof routes === 'string') sections.push(`## Protected route\n${routes}`);
else {
  const get = (k: string) => routes.get(k);
  const ceiling = get('ceiling');
  const ceilingRps = ceiling?.ok ? ceiling.rps : Number.NaN;
  sections.push(`## Protected route: what real logout costs
One \`GET /protected\` Fastify route answering \`{"ok":true}\`, each variant in its own server process,
driven over loopback by autocannon (32 connections, ${p.seconds} s after a 1 s warm-up, median of ${p.rounds}
alternating round${p.rounds > 1 ? 's' : ''}). Server and load generator share the machine's cores, so the
ratios are the point, not the absolute numbers.

${table(['variant', 'requests/s', 'vs ceiling', 'p50', 'p99'], variants.map((v) => {
    const r = get(v.key);
    if (!r) return [v.label, '—', '—', '—', '—'];
    if (!r.ok) return [v.label, r.reason, '—', '—', '—'];
    return [v.label, count(r.rps), v.key === 'bare' ? '—' : ratio(r.rps, ceilingRps), `${r.p50} ms`, `${r.p99} ms`];
  }))}

![protected-route throughput](bench/protected-route.svg)

- *ceiling*: the same ES256 check with the same verified-token cache, no revocation lookup: a
  plain "stateless JWT" server. *Tokenstile default*: \`app.authenticate\`, the same check plus one
  \`Map\` lookup in the revocation list fed by pushed events. *Redis GET*: the same check plus one
  \`GET\` of a denylist key per request (one ioredis connection, a real Redis on loopback).
- *strict* and *opaque* are asked for exactly as a user would (\`TOKENSTILE_REVOCATION_CHECK=strict\`,
  \`TOKENSTILE_ACCESS_TOKEN_FORMAT=opaque\`, options \`revocationCheck\`, \`accessTokenFormat\`); a build
  that refuses or ignores them is reported as such, never measured as the default mode.
- The floor (no auth at all) bounds the noise: when it comes out near or below the ceiling, the
  differences between the cached rows are the machine's, not the code's.`);
  writeFileSync(new URL('./protected-route.svg', import.meta.url), barChart(`Protected route, requests/s (${quick ? 'quick' : 'full'} run, ${new Date().toISOString().slice(0, 10)})`, 'req/s',
    variants.map((v) => {
      const r = get(v.key);
      return r?.ok ? { label: v.label, value: r.rps, accent: ['tokenstile', 'strict', 'opaque'].includes(v.key) } : { label: v.label, value: null, note: r ? r.reason.replace(/ \(.*$/, '') : 'not measured' };
    })));
  const ts = get('tokenstile');
  const redis = get('redis');
  const tsRps = ts?.ok ? ts.rps : Number.NaN;
  targets.push({ target: 'protected route, revocation enforced ≥ 0.95× the ceiling', measured: ratio(tsRps, ceilingRps), met: Number.isFinite(tsRps / ceilingRps) ? tsRps / ceilingRps >= 0.95 : null });
  const redisRps = redis?.ok ? redis.rps : Number.NaN;
  targets.push({ target: 'protected route, revocation enforced ≥ 1.6× Redis per request', measured: redis?.ok ? ratio(tsRps, redisRps) : (redis as { reason?: string } | undefined)?.reason ?? 'not measured', met: Number.isFinite(tsRps / redisRps) ? tsRps / redisRps >= 1.6 : null });
}

// 1b. The protected route in Express and Hono: Tokenstile's middleware vs a stateless JWT check.
{
  const r = await scenario('protected route in Express and Hono', () => frameworkProtectedRoute({ seconds: p.seconds, rounds: p.rounds, progress }));
  const out = frameworkProtectSection(r, { seconds: p.seconds, rounds: p.rounds });
  sections.push(out.section);
  targets.push(...out.targets);
}

// 1c. DPoP: a bound token with a fresh proof per request against a Bearer token.
{
  const d = quick ? { requests: 4000, rounds: 1 } : { requests: 20_000, rounds: 3 };
  const r = await scenario('DPoP on the protected route', () => dpopProtectedRoute({ ...d, progress }));
  sections.push(typeof r === 'string' ? `## DPoP on the protected route\n${r}` : dpopSection(r, d));
}

// 2. Refresh throughput.
const refreshRows: string[][] = [];
const refreshOf: Record<string, RefreshResult | string> = {};
for (const backend of ['sqlite', 'postgres'] as const) {
  const r = backend === 'postgres' && services ? `not measured: ${services}` : await scenario(`refresh on ${backend}`, () => refreshThroughput(backend, p.refreshSeconds, postgresUrl));
  refreshOf[backend] = r;
  refreshRows.push(typeof r === 'string' ? [backend, r, '—', '—', '—'] : [backend === 'sqlite' ? 'SQLite (file, WAL)' : 'PostgreSQL (pool of 10)', count(r.perSecond), ms(r.p50), ms(r.p99), String(r.failed)]);
  if (typeof r !== 'string') progress(`  ${count(r.perSecond)}/s`);
}
sections.push(`## Refresh rotations per second
Through the core, no HTTP: 32 clients each refreshing its own session in a loop for ${p.refreshSeconds} s (parse and
MAC-check the token, one \`UPDATE … RETURNING\` compare-and-swap that also checks the user, seal
the grace box, sign an ES256 access token). The database runs on the same cores.

${table(['backend', 'refreshes/s', 'p50', 'p99', 'failed'], refreshRows)}`);
const refreshTarget = (backend: string, goal: number) => {
  const r = refreshOf[backend];
  targets.push({ target: `refresh ≥ ${count(goal)}/s on ${backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`, measured: typeof r === 'string' || !r ? String(r) : `${count(r.perSecond)}/s`, met: typeof r === 'string' || !r ? null : r.perSecond >= goal });
};
refreshTarget('sqlite', 5000);
refreshTarget('postgres', 2500);

// 2b. Login and refresh through each adapter (Fastify, the Node handler in Express, the fetch handler in Hono).
{
  const r = await scenario('login and refresh through each adapter', () => adapterAuth({ seconds: p.authSeconds, rounds: p.rounds, progress }));
  const out = adapterAuthSection(r, { seconds: p.authSeconds, rounds: p.rounds });
  sections.push(out.section);
  targets.push(...out.targets);
}

// 2c. Sign-in with a second factor (TOTP) against sign-in without.
{
  const m = quick ? { logins: 10, rounds: 1 } : { logins: 40, rounds: 3 };
  sections.push(mfaLoginSection(await scenario('sign-in with TOTP', () => mfaLogin(m)), m));
}

// 3. Logins under concurrency.
const logins = await scenario('logins under load', () => loginsUnderLoad(p.loginSeconds, 4));
if (typeof logins === 'string') {
  sections.push(`## Logins\n${logins}`);
  targets.push({ target: 'protected-route p99 < 5 ms while logins run', measured: logins, met: null });
} else {
  sections.push(`## Logins, and protected requests while they run
A real server process (\`bin/tokenstile.js serve\`, SQLite, argon2id at its OWASP default: 19 MiB, 2
passes), 4 clients logging in back to back for ${p.loginSeconds} s, while \`GET /auth/me\` runs at a fixed
500 requests/s, open loop on keep-alive connections, each timed from when it was due (p99 also
measured alone, before, after an unmeasured warm-up).

${table(['what', 'figure'], [
    ['logins completed', count(logins.logins)],
    ['login latency p50 / p99', `${ms(logins.loginP50)} / ${ms(logins.loginP99)}`],
    ['protected p99 alone', ms(logins.protectedP99Alone)],
    ['protected p99 while logins run', ms(logins.protectedP99During)],
  ])}

argon2id runs on libuv's thread pool, off the event loop, and is CPU-bound by design. The hasher
runs at most one fewer hash than there are cores (here: one), so a burst of logins queues instead
of taking every core from the event loop that serves protected requests. On this machine the load
generator and the login clients share the same two cores as the server and its hashing thread.`);
  targets.push({ target: 'protected-route p99 < 5 ms while logins run', measured: ms(logins.protectedP99During), met: logins.protectedP99During < 5 });
}

// 4. Revocation propagation.
const prop = services ? `not measured: ${services}` : await scenario('propagation across three instances', () => propagation(p.logouts));
if (typeof prop === 'string') {
  sections.push(`## Revocation propagation\n${prop}`);
  targets.push({ target: 'propagation p99 ≤ 50 ms', measured: prop, met: null });
} else {
  sections.push(`## Revocation propagation
Three server processes on one PostgreSQL schema and one Redis prefix. ${p.logouts} logouts, rotating over the
instances; from the moment the logout request is *sent*, the two other instances are polled back to
back with the token until they answer 401 (so each figure includes the logout's own round trip).

${table(['receiver', 'p50', 'p99', 'max'], [
    ['the two other instances', ms(prop.p50), ms(prop.p99), ms(prop.max)],
    ['verify SDK (createVerifier, revocation stream)', ...(typeof prop.sdk === 'string' ? [prop.sdk, '—', '—'] : [ms(prop.sdk.p50), ms(prop.sdk.p99), '—'])],
  ])}`);
  targets.push({ target: 'propagation p99 ≤ 50 ms', measured: ms(prop.p99), met: prop.p99 <= 50 });
}

// 4b. The logout guarantee: accepted after the answer, and what it adds to a logout.
const guarantee = services ? `not measured: ${services}` : await scenario('logout guarantee across three instances', () => logoutGuarantee({ cycles: p.guaranteeCycles, workers: 4, background: 12 }));
if (typeof guarantee === 'string') {
  sections.push(`## Logout guarantee\n${guarantee}`);
  targets.push({ target: 'revoked tokens accepted after the revocation answered: 0', measured: guarantee, met: null });
} else {
  const row = (label: string, g: typeof guarantee.quiet) => {
    const total = Object.values(g.result.revocations).reduce((a, b) => a + b, 0);
    return [label, String(total), `${g.result.accepted.length} of ${count(g.result.checks)}`, ms(pct(g.result.latencies, 50)), ms(pct(g.result.latencies, 99)), `${g.confirm.over50ms} / ${g.confirm.over1s}`, count(g.result.background.answered)];
  };
  sections.push(`## Logout guarantee
Three server processes on one PostgreSQL schema and one Redis prefix. Each revocation (logout, global
and other-devices logout, \`DELETE /auth/sessions/:id\`, password change, refresh-token reuse, RFC 7009
revoke, in turn) ends a session that was signed in on one instance and refreshed on another; the moment
the call answers, both access tokens of the session are sent to all three instances. *Quiet*: one worker,
nothing else running. *Under load*: 4 workers at once and 12 loops of protected GETs over the instances.
The latency is the whole revocation call as the client sees it; "confirmations over 50 ms / 1 s"
counts revocations whose wait for the other instances' acknowledgements (or leases) took that long.

${table(['run', 'revocations', 'accepted after the answer', 'latency p50', 'p99', 'confirmations over 50 ms / 1 s', 'background requests'], [row('quiet', guarantee.quiet), row('under load', guarantee.loaded)])}`);
  const accepted = guarantee.quiet.result.accepted.length + guarantee.loaded.result.accepted.length;
  const checks = guarantee.quiet.result.checks + guarantee.loaded.result.checks;
  targets.push({ target: 'revoked tokens accepted after the revocation answered: 0', measured: `${accepted} of ${count(checks)}`, met: accepted === 0 });
}

// 5. Memory per revocation entry.
const memory = await scenario('memory per revocation entry', async () =>
  execFileSync(process.execPath, ['--expose-gc', new URL('./revocation-memory.ts', import.meta.url).pathname], { encoding: 'utf8', timeout: 120_000 }));
sections.push(`## Memory per live revocation
\`node --expose-gc bench/revocation-memory.ts\`: heap growth per entry of the in-memory list, the
session id string included, fed as the subscriber receives them.

${memory}`);
const perEntry = typeof memory === 'string' ? [...memory.matchAll(/\| ([\d,]+) \| (\d+) B \|/g)].map((m) => Number(m[2])) : [];
targets.push({ target: '≤ 200 bytes per revocation entry (100k and 1M)', measured: perEntry.length ? perEntry.map((b) => `${b} B`).join(', ') : String(memory), met: perEntry.length ? perEntry.every((b) => b <= 200) : null });

// 6. Growth.
const growthRows: string[][] = [];
const dir = mkdtempSync(join(tmpdir(), 'tokenstile-growth-'));
try {
  for (const [label, seed] of [['1k sessions, 0 revocations', { sessions: 1000, revocations: 0 }], [`${count(p.bigSessions)} sessions, 100k live revocations`, { sessions: p.bigSessions, revocations: 100_000 }]] as const) {
    const r = await scenario(`growth: protected route with ${label}`, async () => {
      const server = await startProtectedServer({ mode: 'tokenstile', cache: 10_000, database: join(dir, `${seed.sessions}.db`), seed });
      if (!server.ok) throw new Error(server.reason);
      try {
        const url = `http://127.0.0.1:${server.port}/protected`;
        const headers = { authorization: `Bearer ${server.token}` };
        await load(url, headers, 1);
        return { rps: (await load(url, headers, p.seconds)).rps, revocations: server.revocations };
      } finally {
        await server.stop();
      }
    });
    const sq = await scenario(`growth: refresh on SQLite with ${label}`, () => refreshThroughput('sqlite', p.refreshSeconds, postgresUrl, seed));
    const pgr = p.pgGrowth && !services ? await scenario(`growth: refresh on PostgreSQL with ${label}`, () => refreshThroughput('postgres', p.refreshSeconds, postgresUrl, seed)) : 'full run only';
    growthRows.push([label, typeof r === 'string' ? r : `${count(r.rps)} (list: ${count(r.revocations)})`, typeof sq === 'string' ? sq : `${count(sq.perSecond)}/s`, typeof pgr === 'string' ? pgr : `${count(pgr.perSecond)}/s`]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
sections.push(`## How cost grows with the work
The same measurements with rows seeded by bulk SQL (one \`INSERT … SELECT\`) before the measuring
process starts; seeded revocations are loaded into the list at start, as after a restart. The goal is flat.

${table(['store holds', 'protected route, requests/s', 'refresh/s, SQLite', 'refresh/s, PostgreSQL'], growthRows)}`);

// 7. Cold start.
const cold = await scenario('cold start', () => coldStart(p.coldRuns));
sections.push(`## Cold start
Process start (\`node bin/tokenstile.js serve\`) until \`/readyz\` answers 200, polled every 50 ms, SQLite.

${typeof cold === 'string' ? cold : table(['database', 'start → ready'], [['new file (migrations, key generation)', ms(cold.fresh)], ['existing file', ms(cold.existing)]])}`);

const elapsed = (performance.now() - started) / 1000;
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = `# Benchmarks

Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} on ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB,
Node ${process.version}, ${process.platform}/${process.arch}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}.
Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (\`node bench/run.ts${quick ? ' --quick' : ''}\`), ${elapsed.toFixed(0)} s.
${process.env.TOKENSTILE_BENCH_NOTE ? `\n> ${process.env.TOKENSTILE_BENCH_NOTE}\n` : ''}
Everything runs on loopback on this one machine: servers, PostgreSQL, Redis and the load generator
share its cores. Compare rows within one run (ratios); absolute figures move with the machine.

## Targets
${targetsTable(targets)}

${sections.join('\n\n')}
`;
writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), md);
progress(`wrote BENCHMARKS.md and bench/protected-route.svg in ${elapsed.toFixed(0)} s`);
process.stderr.write(`\n${targetsTable(targets)}\n`);
process.exit(0);
