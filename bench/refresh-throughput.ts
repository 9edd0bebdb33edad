// Refresh rotations per second through the core (no HTTP): parse and MAC-check the token, read
// the session and user, one compare-and-swap UPDATE, seal the grace box, sign an access token.
// 32 concurrent clients, each refreshing its own session in a loop.
//   node bench/refresh-throughput.ts [seconds]
import { createArgon2Hasher } from '../src/core/password.ts';
import { createTokenstile } from '../src/core/tokenstile.ts';
import { openStores } from '../src/stores/open-stores.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const seconds = Number(process.argv[2] ?? 5);
const clients = 32;
const dir = mkdtempSync(join(tmpdir(), 'tokenstile-bench-'));
const schema = `ts_bench_${process.pid}`;
const postgres = process.env.TOKENSTILE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const backends: Array<[string, string]> = [
  ['SQLite (file, WAL)', `sqlite:${dir}/bench.db`],
  ['PostgreSQL (pool of 10)', `${postgres}?schema=${schema}&max=10`],
];
const rows: string[] = [];
try {
  for (const [label, url] of backends) {
    const stores = await openStores(url);
    const core = await createTokenstile({ stores, issuer: 'http://127.0.0.1', passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }), rateLimits: false });
    await core.register({ email: 'bench@example.com', password: 'bench password 1' });
    const tokens: string[] = [];
    for (let i = 0; i < clients; i++) {
      const r = await core.login({ email: 'bench@example.com', password: 'bench password 1' });
      if (!r.ok) throw new Error(r.code);
      tokens.push(r.value.refreshToken);
    }
    let done = 0;
    let failed = 0;
    const latencies: number[] = [];
    const until = performance.now() + seconds * 1000;
    await Promise.all(
      tokens.map(async (start) => {
        let token = start;
        while (performance.now() < until) {
          const t = performance.now();
          const r = await core.refresh(token);
          latencies.push(performance.now() - t);
          if (!r.ok) {
            failed++;
            return;
          }
          token = r.value.refreshToken;
          done++;
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.floor(q * (latencies.length - 1))]!.toFixed(2);
    rows.push(`| ${label} | ${Math.round(done / seconds).toLocaleString('en-US')} | ${p(0.5)} ms | ${p(0.99)} ms | ${failed} |`);
    await core.close();
    await stores.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: postgres });
  await client.connect().then(() => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => {}).finally(() => client.end());
}
console.log(`| backend | refreshes/s | p50 | p99 | failed |\n|---|---|---|---|---|\n${rows.join('\n')}`);
