// Protected-request throughput: Tokenstile with revocation enforced vs the same framework doing
// only the signature check (the ceiling) vs no authentication. Each server runs in its own process
// on loopback; autocannon drives it from this one. Rounds alternate the modes so that drift on a
// noisy machine hits all of them alike. Writes BENCHMARKS.md.
//   node bench/protected-route.ts [--quick]
import autocannon from 'autocannon';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createInterface } from 'node:readline';

const quick = process.argv.includes('--quick');
const duration = quick ? 4 : 10;
const rounds = quick ? 1 : 3;
const connections = 32;

interface Variant { label: string; mode: string; revoked: number; cache: number; ceiling?: boolean }
const variants: Variant[] = [
  { label: 'no auth (framework floor)', mode: 'bare', revoked: 0, cache: 0 },
  { label: 'cached signature check only (ceiling)', mode: 'ceiling', revoked: 0, cache: 10_000, ceiling: true },
  { label: 'Tokenstile, revocation enforced, 0 live revocations', mode: 'tokenstile', revoked: 0, cache: 10_000 },
  { label: 'Tokenstile, revocation enforced, 10k live revocations', mode: 'tokenstile', revoked: 10_000, cache: 10_000 },
  { label: 'uncached signature check only (ceiling, cache off)', mode: 'ceiling', revoked: 0, cache: 0, ceiling: true },
  { label: 'Tokenstile, revocation enforced, cache off', mode: 'tokenstile', revoked: 10_000, cache: 0 },
];

async function start(v: Variant): Promise<{ child: ChildProcess; port: number; token: string; revocations: number }> {
  const child = spawn(process.execPath, [new URL('./protected-server.ts', import.meta.url).pathname, v.mode, String(v.revoked), String(v.cache)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { child, ...JSON.parse(line) };
}

async function measure(v: Variant): Promise<{ rps: number; p50: number; p99: number; non2xx: number; revocations: number }> {
  const server = await start(v);
  try {
    const run = (seconds: number) =>
      autocannon({
        url: `http://127.0.0.1:${server.port}/protected`,
        connections,
        duration: seconds,
        headers: { authorization: `Bearer ${server.token}` },
      });
    await run(1); // warm-up: JIT, connection setup
    const r = await run(duration);
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, revocations: server.revocations };
  } finally {
    server.child.kill();
  }
}

process.stderr.write('hot path in-process (bench/hot-path.ts) … ');
const hotPath = execFileSync(process.execPath, [new URL('./hot-path.ts', import.meta.url).pathname], { encoding: 'utf8' });
process.stderr.write('done\n');

const results = new Map<string, Array<Awaited<ReturnType<typeof measure>>>>();
for (let round = 1; round <= rounds; round++) {
  for (const v of variants) {
    process.stderr.write(`round ${round}/${rounds}: ${v.label} … `);
    const m = await measure(v);
    if (m.non2xx > 0) throw new Error(`${v.label}: ${m.non2xx} non-2xx answers; the bench is measuring errors`);
    process.stderr.write(`${Math.round(m.rps)} req/s\n`);
    results.set(v.label, [...(results.get(v.label) ?? []), m]);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const rows = variants.map((v) => {
  const ms = results.get(v.label) ?? [];
  return { ...v, rps: median(ms.map((m) => m.rps)), p50: median(ms.map((m) => m.p50)), p99: median(ms.map((m) => m.p99)), revocations: ms[0]?.revocations ?? 0 };
});
// Each variant is compared with the ceiling of the same cache setting.
const ceilingFor = (cache: number) => rows.find((r) => r.ceiling && (r.cache > 0) === (cache > 0))!.rps;
const table = rows
  .map((r) => `| ${r.label} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.mode === 'bare' ? '—' : `${(r.rps / ceilingFor(r.cache)).toFixed(2)}×`} | ${r.p50} | ${r.p99} | ${r.revocations} |`)
  .join('\n');

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = `# Benchmarks

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB,
Node ${process.version}, ${process.platform}/${process.arch}. Command: \`npm run bench${quick ? ' -- --quick' : ''}\`
(\`node bench/protected-route.ts${quick ? ' --quick' : ''}\`).

## Protected route: what real logout costs
One \`GET /protected\` route in Fastify answering \`{"ok":true}\`, each variant in its own server
process, driven over loopback by autocannon (${connections} connections, ${duration} s after a 1 s warm-up,
median of ${rounds} alternating round${rounds > 1 ? 's' : ''}). The server and the load generator share the machine's 2 cores,
so absolute numbers are lower than on a dedicated box; the ratios are the point.

| variant | requests/s | vs ceiling | p50 ms | p99 ms | live revocations |
|---|---|---|---|---|---|
${table}

- *ceiling*: the same ES256 signature and claims check Tokenstile does, with the same
  verified-token cache, but without the revocation lookup: what a plain "stateless JWT" server pays.
  "vs ceiling" compares each Tokenstile row with the ceiling of the same cache setting.
- *Tokenstile*: \`app.authenticate\`, i.e. the signature and claims check plus the in-memory
  revocation list (one Map lookup). The 10k variants have ten thousand other sessions revoked
  through the real path (database transaction, then the list).
- *cache off* (\`verifiedTokenCacheSize: 0\`): every request pays the ECDSA P-256 verification
  (~75 µs), which then dominates.
- How to read it: with the cache on, the server is as fast as with no authentication at all, and
  the load generator, sharing the 2 cores, is the limit; differences of ±15 % between those rows
  are noise of this machine (compare the floor with the ceiling). The cache-off rows are CPU-bound
  on the server, so their ratio is the sharper measure of what the revocation check costs.

## The hot path in-process
\`bench/hot-path.ts\`: the same token checked ${'in a loop'} by the bare verifier and by Tokenstile's
\`authenticate\`, with 100,000 live revocations in the list, alternating in 7 rounds (median), no
HTTP and no load generator competing for the CPU. This isolates what the revocation check adds.

${hotPath}
- With the cache on, the revocation check adds a few tens of nanoseconds (one \`Map\` lookup and
  the result object): about 0.1 % of the ~20 µs Fastify spends on a request, which is why the HTTP
  rows above cannot tell the variants apart.
- With the cache off, both columns are the ECDSA P-256 verification; the difference is within
  the noise of one run.
`;
writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), md);
process.stderr.write(`\n${table}\n\nwrote BENCHMARKS.md\n`);
