// Refresh rotations per second through the core (no HTTP): 32 clients, each refreshing its own
// session in a loop, on SQLite (file, WAL) and on PostgreSQL. Optionally with bulk rows seeded
// first (the growth scenario).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createArgon2Hasher } from '../../src/core/password.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { openStores } from '../../src/stores/open-stores.ts';
import { seedPostgres, seedSqlite, type SeedCounts } from '../lib/seed.ts';
import { percentile } from '../lib/stats.ts';

/** What one refresh run measured. */
export interface RefreshResult {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failed: number;
}

/** Refreshes per second on `backend` for `seconds`, after seeding `seed` rows when given. */
export async function refreshThroughput(backend: 'sqlite' | 'postgres', seconds: number, postgresUrl: string, seed?: SeedCounts): Promise<RefreshResult> {
  const clients = 32;
  const dir = mkdtempSync(join(tmpdir(), 'tokenstile-bench-'));
  const schema = `ts_bench_${process.pid}_${Date.now() % 1e6}`;
  const url = backend === 'sqlite' ? `sqlite:${dir}/bench.db` : `${postgresUrl}?schema=${schema}&max=10`;
  try {
    const stores = await openStores(url);
    const core = await createTokenstile({ stores, issuer: 'http://127.0.0.1', passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }), rateLimits: false });
    try {
      const user = await core.register({ email: 'bench@example.com', password: 'bench password 1' });
      if (!user.ok) throw new Error(user.code);
      if (seed) {
        if (backend === 'sqlite') seedSqlite(`${dir}/bench.db`, user.value.id, seed);
        else await seedPostgres(postgresUrl, schema, user.value.id, seed);
      }
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
      await Promise.all(tokens.map(async (start) => {
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
      }));
      return { perSecond: done / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
    } finally {
      await core.close();
      await stores.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (backend === 'postgres') {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect().then(() => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => {}).finally(() => client.end());
    }
  }
}
