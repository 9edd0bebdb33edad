// Tokenstile inside Express and Hono: the protected route with `auth.protect()` against the same
// framework with a stateless JWT check, and login and refresh through each adapter against
// Fastify. Each variant runs in its own server process (bench/framework-server.ts); the main
// figure is the server's CPU time per answered request, read from its control endpoint before and
// after the measured load, which holds better than requests/s on a machine shared with other work.
import type { FrameworkServerSpec } from '../framework-server.ts';
import { load, startCpuServer, type CpuServer } from '../lib/processes.ts';
import { median } from '../lib/stats.ts';

/** One measured variant: server CPU per request (µs) and throughput, medians over the rounds. */
export interface FrameworkFigure {
  readonly cpuPerRequest: number;
  readonly rps: number;
}

/** The protected-route variants, in the order of the report. */
export const protectedVariants = [
  { key: 'express-stateless', label: 'Express, stateless JWT check (jose, no revocation)', spec: { framework: 'express', mode: 'stateless' } },
  { key: 'express-cached', label: 'Express, cached signature check, no revocation (ceiling)', spec: { framework: 'express', mode: 'cached' } },
  { key: 'express-tokenstile', label: 'Express, Tokenstile `auth.protect()` (tokenstile/node)', spec: { framework: 'express', mode: 'tokenstile' } },
  { key: 'hono-stateless', label: 'Hono, stateless JWT check (`hono/jwt`, no revocation)', spec: { framework: 'hono', mode: 'stateless' } },
  { key: 'hono-cached', label: 'Hono, cached signature check, no revocation (ceiling)', spec: { framework: 'hono', mode: 'cached' } },
  { key: 'hono-tokenstile', label: 'Hono, Tokenstile `auth.protect()` (tokenstile/fetch)', spec: { framework: 'hono', mode: 'tokenstile' } },
] as const satisfies ReadonlyArray<{ key: string; label: string; spec: FrameworkServerSpec }>;

/** The adapters that serve login and refresh, Fastify first (the reference). */
export const authAdapters = [
  { key: 'fastify', label: 'Fastify (`buildApp`)' },
  { key: 'express', label: 'Express (Node handler, tokenstile/node)' },
  { key: 'hono', label: 'Hono (fetch handler, tokenstile/fetch)' },
] as const;

interface Started extends CpuServer {
  readonly token: string;
}

/** Starts bench/framework-server.ts with `spec` and waits for its first line. */
async function start(spec: FrameworkServerSpec): Promise<Started> {
  const server = await startCpuServer(new URL('../framework-server.ts', import.meta.url), [JSON.stringify(spec)], `${spec.framework} ${spec.mode}`);
  return Object.assign(server, { token: server.info.token as string });
}

/** Runs `work` between two reads of the server's counters; CPU µs per request answered in between. */
async function measured(server: Started, work: () => Promise<number>): Promise<FrameworkFigure> {
  const before = await server.cpu();
  const t0 = performance.now();
  const done = await work();
  const seconds = (performance.now() - t0) / 1000;
  const after = await server.cpu();
  const requests = after.requests - before.requests;
  if (requests <= 0) throw new Error('the server answered no requests');
  return { cpuPerRequest: (after.micros - before.micros) / requests, rps: done / seconds };
}

function medians(samples: Map<string, FrameworkFigure[]>): Map<string, FrameworkFigure> {
  return new Map([...samples].map(([k, xs]) => [k, { cpuPerRequest: median(xs.map((x) => x.cpuPerRequest)), rps: median(xs.map((x) => x.rps)) }]));
}

/** The protected route in each framework, Tokenstile vs the stateless check, in alternating rounds. */
export async function frameworkProtectedRoute(opts: { seconds: number; rounds: number; progress: (s: string) => void }): Promise<Map<string, FrameworkFigure>> {
  const samples = new Map<string, FrameworkFigure[]>();
  for (let round = 1; round <= opts.rounds; round++) {
    for (const v of protectedVariants) {
      opts.progress(`frameworks, round ${round}/${opts.rounds}: ${v.label}`);
      const server = await start(v.spec);
      try {
        const url = `${server.base}/protected`;
        const headers = { authorization: `Bearer ${server.token}` };
        await load(url, headers, 1);
        let failed = 0;
        const m = await measured(server, async () => {
          const r = await load(url, headers, opts.seconds);
          failed = r.non2xx;
          return r.rps * opts.seconds;
        });
        if (failed > 0) throw new Error(`${v.label}: ${failed} failed answers; refusing to report a figure`);
        samples.set(v.key, [...(samples.get(v.key) ?? []), m]);
        opts.progress(`  ${m.cpuPerRequest.toFixed(1)} µs CPU/request, ${Math.round(m.rps)} req/s`);
      } finally {
        await server.stop();
      }
    }
  }
  return medians(samples);
}

/** POSTs JSON and returns the parsed answer; throws on anything but 200. */
async function post(url: string, body: object): Promise<{ refreshToken: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { refreshToken: string; code?: string };
  if (res.status !== 200) throw new Error(`${new URL(url).pathname} answered ${res.status} ${json.code ?? ''}`);
  return json;
}

/** Runs `clients` loops of `step` for `seconds`; how many steps completed. */
async function loops(clients: number, seconds: number, step: (client: number) => Promise<void>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    while (performance.now() < until) {
      await step(i);
      done++;
    }
  }));
  return done;
}

/** Login and refresh through each adapter: CPU per request and throughput, 8 clients on keep-alive. */
export async function adapterAuth(opts: { seconds: number; rounds: number; progress: (s: string) => void }): Promise<{ login: Map<string, FrameworkFigure>; refresh: Map<string, FrameworkFigure> }> {
  const clients = 8;
  const login = new Map<string, FrameworkFigure[]>();
  const refresh = new Map<string, FrameworkFigure[]>();
  const credentials = { email: 'bench@example.com', password: 'bench password 1' };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const a of authAdapters) {
      opts.progress(`login and refresh, round ${round}/${opts.rounds}: ${a.label}`);
      const server = await start({ framework: a.key, mode: 'auth' });
      try {
        const loginUrl = `${server.base}/auth/login`;
        const refreshUrl = `${server.base}/auth/refresh`;
        await loops(clients, 0.5, async () => void (await post(loginUrl, credentials)));
        const l = await measured(server, () => loops(clients, opts.seconds, async () => void (await post(loginUrl, credentials))));
        login.set(a.key, [...(login.get(a.key) ?? []), l]);
        const tokens = await Promise.all(Array.from({ length: clients }, async () => (await post(loginUrl, credentials)).refreshToken));
        const step = async (i: number) => {
          tokens[i] = (await post(refreshUrl, { refreshToken: tokens[i] })).refreshToken;
        };
        await loops(clients, 0.5, step);
        const r = await measured(server, () => loops(clients, opts.seconds, step));
        refresh.set(a.key, [...(refresh.get(a.key) ?? []), r]);
        opts.progress(`  login ${l.cpuPerRequest.toFixed(0)} µs CPU/request, ${Math.round(l.rps)}/s; refresh ${r.cpuPerRequest.toFixed(0)} µs, ${Math.round(r.rps)}/s`);
      } finally {
        await server.stop();
      }
    }
  }
  return { login: medians(login), refresh: medians(refresh) };
}
