// Protected-route throughput: every variant in its own server process, in alternating rounds
// within one run, so that ratios hold on a noisy machine.
import { randomBytes } from 'node:crypto';
import { load, startProtectedServer } from '../lib/processes.ts';
import type { ProtectedMode } from '../lib/modes.ts';
import { median } from '../lib/stats.ts';

/** One variant of the comparison. */
export interface Variant {
  readonly key: string;
  readonly label: string;
  readonly mode: ProtectedMode;
  readonly cache: number;
}

export const variants: readonly Variant[] = [
  { key: 'bare', label: 'no auth (framework floor)', mode: 'bare', cache: 0 },
  { key: 'ceiling', label: 'cached signature check, no revocation (ceiling)', mode: 'ceiling', cache: 10_000 },
  { key: 'tokenstile', label: 'Tokenstile default (revocation pushed, in memory)', mode: 'tokenstile', cache: 10_000 },
  { key: 'redis', label: 'signature check + Redis GET per request (denylist)', mode: 'redis', cache: 10_000 },
  { key: 'strict', label: 'Tokenstile strict (store lookup per request)', mode: 'strict', cache: 10_000 },
  { key: 'opaque', label: 'Tokenstile opaque reference tokens', mode: 'opaque', cache: 10_000 },
];

/** The median of the rounds for one variant, or why it was not measured. */
export type VariantResult =
  | { readonly ok: true; readonly rps: number; readonly p50: number; readonly p99: number }
  | { readonly ok: false; readonly reason: string };

/** Runs every variant `rounds` times for `seconds` each (after a 1 s warm-up). */
export async function protectedRoute(opts: { seconds: number; rounds: number; redisUrl: string; progress: (s: string) => void }): Promise<Map<string, VariantResult>> {
  const samples = new Map<string, Array<{ rps: number; p50: number; p99: number }>>();
  const results = new Map<string, VariantResult>();
  const redisPrefix = `tsbench:${process.pid}:${randomBytes(4).toString('hex')}:`;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const v of variants) {
      if (results.has(v.key) && !results.get(v.key)!.ok) continue;
      opts.progress(`protected route, round ${round}/${opts.rounds}: ${v.label}`);
      const server = await startProtectedServer({ mode: v.mode, cache: v.cache, redisUrl: opts.redisUrl, redisPrefix });
      if (!server.ok) {
        results.set(v.key, { ok: false, reason: server.reason });
        opts.progress(`  ${server.reason}`);
        continue;
      }
      try {
        const url = `http://127.0.0.1:${server.port}/protected`;
        const headers = { authorization: `Bearer ${server.token}` };
        await load(url, headers, 1);
        const m = await load(url, headers, opts.seconds);
        if (m.non2xx > 0) throw new Error(`${v.label}: ${m.non2xx} failed answers; refusing to report a figure`);
        samples.set(v.key, [...(samples.get(v.key) ?? []), m]);
        opts.progress(`  ${Math.round(m.rps)} req/s, p99 ${m.p99} ms`);
      } finally {
        await server.stop();
      }
    }
  }
  for (const [key, ms] of samples) {
    results.set(key, { ok: true, rps: median(ms.map((m) => m.rps)), p50: median(ms.map((m) => m.p50)), p99: median(ms.map((m) => m.p99)) });
  }
  return results;
}
