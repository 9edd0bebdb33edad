// DPoP on the protected route: the server's CPU time per answered request for a Bearer token
// against a DPoP-bound token with a fresh proof on every request (RFC 9449: signature of the proof,
// htm/htu/iat/ath checks, the jti replay record). The proofs are signed here, before the measured
// load, so the client's signing cost is not counted; the server (bench/dpop-server.ts) runs in its
// own process and reports its CPU before and after the load.
import { createHash, randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startCpuServer } from '../lib/processes.ts';
import { median } from '../lib/stats.ts';

const issuer = 'http://127.0.0.1';
const credentials = { email: 'bench@example.com', password: 'bench password 1' };

/** Server CPU per request (µs) and throughput of one variant, medians over the rounds. */
export interface DpopFigure {
  readonly cpuPerRequest: number;
  readonly rps: number;
}

export const dpopVariants = [
  { key: 'bearer', label: 'Bearer token (signature check cached, in-memory revocation list)' },
  { key: 'dpop', label: 'DPoP-bound token, a fresh ES256 proof per request (memory replay store)' },
] as const;

const start = () => startCpuServer(new URL('../dpop-server.ts', import.meta.url), [], 'DPoP');

async function post(url: string, body: object, headers: Record<string, string> = {}): Promise<{ accessToken: string; tokenType: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json = (await res.json()) as { accessToken: string; tokenType: string; code?: string };
  if (res.status >= 300) throw new Error(`${new URL(url).pathname} answered ${res.status} ${json.code ?? ''}`);
  return json;
}

/** `requests` requests from 32 connections, each with its own headers; answers the throughput and failures. */
async function drive(url: string, headersOf: (i: number) => Record<string, string>, requests: number): Promise<{ rps: number; failed: number }> {
  let i = 0;
  const r = await autocannon({
    url,
    connections: 32,
    amount: requests,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...headersOf(i++) } }) }],
  });
  return { rps: r.requests.average, failed: r.non2xx + r.errors };
}

/**
 * Bearer vs DPoP on `GET /protected`, in alternating rounds; `requests` per variant and round
 * (every DPoP request carries a proof signed beforehand, all within the server's 60 s window).
 */
export async function dpopProtectedRoute(opts: { requests: number; rounds: number; progress: (s: string) => void }): Promise<Map<string, DpopFigure>> {
  const samples = new Map<string, DpopFigure[]>();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const proofFor = (token: string) =>
    new SignJWT({ htm: 'GET', htu: `${issuer}/protected`, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ath: createHash('sha256').update(token).digest('base64url') })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(privateKey);
  for (let round = 1; round <= opts.rounds; round++) {
    const server = await start();
    try {
      await post(`${server.base}/auth/register`, credentials);
      const bearer = await post(`${server.base}/auth/login`, credentials);
      const bound = await post(`${server.base}/auth/login`, credentials, { dpop: await new SignJWT({ htm: 'POST', htu: `${issuer}/auth/login`, iat: Math.floor(Date.now() / 1000), jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey) });
      if (bearer.tokenType !== 'Bearer' || bound.tokenType !== 'DPoP') throw new Error('the bench server did not bind the DPoP sign-in');
      // The route must refuse what it should, or the figures measure nothing.
      const unproven = await fetch(`${server.base}/protected`, { headers: { authorization: `DPoP ${bound.accessToken}` } });
      const anonymous = await fetch(`${server.base}/protected`);
      if (unproven.status !== 401 || anonymous.status !== 401) throw new Error(`the bench route does not check tokens (${unproven.status}, ${anonymous.status})`);
      const url = `${server.base}/protected`;
      // Every proof of the round, signed before any load: the warm-up's first, then the measured ones.
      const warmUp = 3000;
      const proofs = await Promise.all(Array.from({ length: warmUp + opts.requests }, () => proofFor(bound.accessToken)));
      const headers: Record<string, (i: number) => Record<string, string>> = {
        bearer: () => ({ authorization: `Bearer ${bearer.accessToken}` }),
        dpop: (i) => ({ authorization: `DPoP ${bound.accessToken}`, dpop: proofs[i]! }),
      };
      // Both paths warmed up (compiled, caches filled) before either is measured.
      for (const key of ['bearer', 'dpop']) {
        const warm = await drive(url, headers[key]!, warmUp);
        if (warm.failed > 0) throw new Error(`${key}: the warm-up failed`);
      }
      // Alternating order: neither variant always runs on a fresher or a busier process.
      const order = round % 2 === 1 ? dpopVariants : [...dpopVariants].reverse();
      for (const v of order) {
        opts.progress(`dpop, round ${round}/${opts.rounds}: ${v.label}`);
        const before = await server.cpu();
        const t0 = performance.now();
        const r = await drive(url, (i) => headers[v.key]!(warmUp + i), opts.requests);
        const seconds = (performance.now() - t0) / 1000;
        const after = await server.cpu();
        if (r.failed > 0) throw new Error(`${v.label}: ${r.failed} failed answers; refusing to report a figure`);
        const figure = { cpuPerRequest: (after.micros - before.micros) / (after.requests - before.requests), rps: opts.requests / seconds };
        samples.set(v.key, [...(samples.get(v.key) ?? []), figure]);
        opts.progress(`  ${figure.cpuPerRequest.toFixed(1)} µs CPU/request, ${Math.round(figure.rps)} req/s`);
      }
    } finally {
      await server.stop();
    }
  }
  return new Map([...samples].map(([k, xs]) => [k, { cpuPerRequest: median(xs.map((x) => x.cpuPerRequest)), rps: median(xs.map((x) => x.rps)) }]));
}

/** The BENCHMARKS.md section of the scenario. */
export function dpopSection(figures: Map<string, DpopFigure>, p: { requests: number; rounds: number }): string {
  const bearer = figures.get('bearer');
  const dpop = figures.get('dpop');
  const rows = dpopVariants.map((v) => {
    const f = figures.get(v.key);
    return `| ${v.label} | ${f ? f.cpuPerRequest.toFixed(1) : '—'} | ${f ? Math.round(f.rps) : '—'} |`;
  });
  const extra = bearer && dpop ? `\n\nA DPoP request costs the server ${(dpop.cpuPerRequest / bearer.cpuPerRequest).toFixed(2)}× the CPU of a Bearer one (${(dpop.cpuPerRequest - bearer.cpuPerRequest).toFixed(0)} µs more): one ES256 proof verification, its claims, and the jti record.` : '';
  return `## DPoP on the protected route
\`GET /protected\` behind \`app.authenticate\` (Fastify), ${p.requests} requests per variant from 32 connections after a
warm-up of both, median of ${p.rounds} round${p.rounds > 1 ? 's' : ''} (a fresh server each, the order alternating); the figure is
the server process's CPU time per answered request. The DPoP proofs (ES256, one per request, each with its own
\`jti\`) are signed before the load starts, so the client's signing is not counted.

| variant | server CPU µs/request | requests/s |
|---|---|---|
${rows.join('\n')}${extra}`;
}
