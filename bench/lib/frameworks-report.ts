// Pure rendering of the framework scenarios (bench/scenarios/frameworks.ts) into report sections
// and targets, shared by bench/run.ts and bench/frameworks.ts. Tested in test/bench/frameworks-report.test.ts.
import { authAdapters, protectedVariants, type FrameworkFigure } from '../scenarios/frameworks.ts';
import { table, type TargetResult } from './report.ts';
import { count, ratio } from './stats.ts';

/** The goal for Tokenstile's CPU per protected request, as a multiple of the stateless check's. */
export const protectGoal = 1.05;
/** The goal for an adapter's CPU per login or refresh, as a multiple of Fastify's. */
export const adapterGoal = 1.1;

/** A scenario's result, or why it was not measured. */
type Outcome<T> = T | string;

const micros = (n: number) => (Number.isFinite(n) ? `${n < 100 ? n.toFixed(1) : Math.round(n)} µs` : '—');
const met = (a: number, b: number, goal: number) => (Number.isFinite(a / b) && b > 0 ? a / b <= goal : null);

/** The "Protected route in Express and Hono" section and its two targets. */
export function frameworkProtectSection(r: Outcome<ReadonlyMap<string, FrameworkFigure>>, run: { seconds: number; rounds: number }): { section: string; targets: TargetResult[] } {
  if (typeof r === 'string') {
    return {
      section: `## Protected route in Express and Hono\n${r}`,
      targets: ['Express', 'Hono'].map((f) => ({ target: `${f}: Tokenstile CPU per protected request ≤ ${protectGoal}× the stateless JWT check`, measured: r, met: null })),
    };
  }
  const cpuOf = (key: string) => r.get(key)?.cpuPerRequest ?? Number.NaN;
  const rows = protectedVariants.map((v) => {
    const f = r.get(v.key);
    const stateless = cpuOf(`${v.spec.framework}-stateless`);
    const ceiling = cpuOf(`${v.spec.framework}-cached`);
    if (!f) return [v.label, 'not measured', '—', '—', '—'];
    return [v.label, micros(f.cpuPerRequest), v.spec.mode === 'stateless' ? '—' : ratio(f.cpuPerRequest, stateless), v.spec.mode === 'tokenstile' ? ratio(f.cpuPerRequest, ceiling) : '—', count(f.rps)];
  });
  const targets = (['express', 'hono'] as const).map((f) => {
    const ts = cpuOf(`${f}-tokenstile`);
    const stateless = cpuOf(`${f}-stateless`);
    return { target: `${f === 'express' ? 'Express' : 'Hono'}: Tokenstile CPU per protected request ≤ ${protectGoal}× the stateless JWT check`, measured: ratio(ts, stateless), met: met(ts, stateless, protectGoal) };
  });
  const section = `## Protected route in Express and Hono: CPU per request
One \`GET /protected\` answering \`{"ok":true}\` in each framework, each variant in its own server process
(Express 5 on \`node:http\`; Hono on \`@hono/node-server\`), driven over loopback by autocannon (32
connections, ${run.seconds} s after a 1 s warm-up, median of ${run.rounds} alternating round${run.rounds > 1 ? 's' : ''}). The main figure is
the server process's CPU time (\`process.cpuUsage()\`, user + system) per request answered, read from
the server's own control endpoint before and after the load: unlike requests/s it does not move
with what else the shared machine is doing.

${table(['variant', 'server CPU per request', 'vs stateless check', 'vs ceiling', 'requests/s'], rows)}

- *stateless JWT check*: what an Express or Hono app uses without Tokenstile: a minimal
  \`jose\` \`jwtVerify\` (ES256, issuer) for Express, \`hono/jwt\` (ES256, issuer, \`typ: at+jwt\`) for Hono.
  Both verify the ECDSA signature on every request and never learn of a logout.
- *ceiling*: Tokenstile's own signature and claims check with its verified-token cache, and no
  revocation lookup: the same framework, the same cache, so the gap to *Tokenstile* is what real
  logout (one \`Map\` lookup in the pushed revocation list) and the middleware cost.
- *Tokenstile*: \`auth.protect()\` from \`tokenstile/node\` (Express) or \`tokenstile/fetch\` (Hono), Bearer
  transport, with the revocation check. It comes out cheaper than the stateless check because a
  token already verified is not verified again (the cache), not because it skips work that matters.`;
  return { section, targets };
}

/** The "Login and refresh through each adapter" section and its targets. */
export function adapterAuthSection(r: Outcome<{ login: ReadonlyMap<string, FrameworkFigure>; refresh: ReadonlyMap<string, FrameworkFigure> }>, run: { seconds: number; rounds: number }): { section: string; targets: TargetResult[] } {
  const names = authAdapters.filter((a) => a.key !== 'fastify');
  if (typeof r === 'string') {
    return {
      section: `## Login and refresh through each adapter\n${r}`,
      targets: names.flatMap((a) => ['login', 'refresh'].map((what) => ({ target: `${a.label}: CPU per ${what} ≤ ${adapterGoal}× Fastify's`, measured: r, met: null }))),
    };
  }
  const cell = (m: ReadonlyMap<string, FrameworkFigure>, key: string) => {
    const f = m.get(key);
    const base = m.get('fastify')?.cpuPerRequest ?? Number.NaN;
    return f ? [micros(f.cpuPerRequest), key === 'fastify' ? '—' : ratio(f.cpuPerRequest, base), `${count(f.rps)}/s`] : ['not measured', '—', '—'];
  };
  const rows = authAdapters.map((a) => [a.label, ...cell(r.login, a.key), ...cell(r.refresh, a.key)]);
  const targets = names.flatMap((a) =>
    (['login', 'refresh'] as const).map((what) => {
      const mine = r[what].get(a.key)?.cpuPerRequest ?? Number.NaN;
      const fastify = r[what].get('fastify')?.cpuPerRequest ?? Number.NaN;
      return { target: `${a.label}: CPU per ${what} ≤ ${adapterGoal}× Fastify's`, measured: ratio(mine, fastify), met: met(mine, fastify, adapterGoal) };
    }),
  );
  const section = `## Login and refresh through each adapter
The contract's \`POST /auth/login\` and \`POST /auth/refresh\` served by the Fastify server (\`buildApp\`), by
the Node handler mounted in Express, and by the fetch handler mounted in Hono; each in its own
process on an in-memory SQLite store, argon2id at a cheap setting (1 MiB, 1 pass) so that the
adapters, not the hash, are compared. 8 clients on keep-alive connections, each logging in (then
each refreshing its own session, the refresh token rotating every time) back to back for ${run.seconds} s after
a 0.5 s warm-up; median of ${run.rounds} round${run.rounds > 1 ? 's' : ''}. CPU is the server process's, per request answered.

${table(['adapter', 'login CPU/request', 'vs Fastify', 'logins', 'refresh CPU/request', 'vs Fastify', 'refreshes'], rows)}`;
  return { section, targets };
}
