// Scenarios on real server processes (bin/tokenstile.js → dist/, as an operator runs it): cold
// start, login latency with protected requests running alongside, and revocation propagation
// across three instances on PostgreSQL + Redis (and to the verify SDK when the build has it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { call, cleanUp, postgresUrl, redisUrl, runId, startInstance, type Instance } from '../../test/scale/harness.ts';
import { median, percentile } from '../lib/stats.ts';

/** Process start → /readyz 200, in ms: on a fresh SQLite file (migrations, key generation) and again on it. */
export async function coldStart(runs: number): Promise<{ fresh: number; existing: number }> {
  const fresh: number[] = [];
  const existing: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'tokenstile-cold-'));
    try {
      for (const into of [fresh, existing]) {
        const t = performance.now();
        const instance = await startInstance({ TOKENSTILE_DATABASE_URL: `sqlite:${dir}/cold.db`, TOKENSTILE_LOG_LEVEL: 'error' });
        into.push(performance.now() - t);
        await instance.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { fresh: median(fresh), existing: median(existing) };
}

/**
 * An open-loop load: one `GET` every `1000 / rate` ms on keep-alive connections, whether or not
 * earlier ones have answered, timing each from the moment it was due. (autocannon's fixed-rate
 * mode sends in bursts, and its p99 then measures its own queue: about 6 ms for a route that
 * answers in 1.)
 */
async function pacedLoad(url: string, token: string, rate: number, seconds: number): Promise<{ p99: number; rps: number }> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const one = (due: number) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - due) : reject(new Error(`${url} answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  for (let due = start; due < end; due += 1000 / rate) {
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(one(due).then((l) => void latencies.push(l)));
  }
  await Promise.all(pending);
  agent.destroy();
  return { p99: percentile(latencies, 99), rps: latencies.length / seconds };
}

/** Login latency (real argon2id) with `concurrency` clients, and protected-request p99 alongside and alone. */
export async function loginsUnderLoad(seconds: number, concurrency: number): Promise<{ loginP50: number; loginP99: number; logins: number; protectedP99Alone: number; protectedP99During: number; protectedRps: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenstile-login-'));
  const instance = await startInstance({ TOKENSTILE_DATABASE_URL: `sqlite:${dir}/login.db`, TOKENSTILE_RATE_LIMITS: 'off', TOKENSTILE_LOG_LEVEL: 'error' });
  try {
    const email = 'login-bench@example.com';
    const password = 'bench password 1';
    await call(instance.url, 'POST', '/auth/register', { email, password });
    const token = (await call(instance.url, 'POST', '/auth/login', { email, password })).json.accessToken as string;
    // A fixed, moderate protected-request rate, so that its latency (not the generator) is measured.
    const protectedLoad = (s: number) => pacedLoad(`${instance.url}/auth/me`, token, 500, s);
    // A short unmeasured run first: a server process just started is still compiling its hot paths,
    // and those first slow requests would otherwise be the p99 of the "alone" figure.
    await protectedLoad(2);
    const alone = await protectedLoad(Math.max(2, Math.floor(seconds / 2)));
    const latencies: number[] = [];
    const until = performance.now() + seconds * 1000;
    const during = protectedLoad(seconds);
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        const r = await call(instance.url, 'POST', '/auth/login', { email, password });
        if (r.status !== 200) throw new Error(`login answered ${r.status}`);
        latencies.push(performance.now() - t);
      }
    }));
    const d = await during;
    return {
      loginP50: percentile(latencies, 50), loginP99: percentile(latencies, 99), logins: latencies.length,
      protectedP99Alone: alone.p99, protectedP99During: d.p99, protectedRps: d.rps,
    };
  } finally {
    await instance.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Logout on one instance → refused on the two others (and by an SDK verifier when available). */
export async function propagation(logouts: number): Promise<{ p50: number; p99: number; max: number; sdk: { p50: number; p99: number } | string }> {
  const id = runId('bench');
  const sdkModule = await import(new URL('../../src/verify/index.ts', import.meta.url).href).catch(() => null);
  const clientSecret = `bench-${id}`;
  const env: Record<string, string> = {
    TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`, TOKENSTILE_REDIS_URL: redisUrl, TOKENSTILE_REDIS_PREFIX: `${id}:`,
    TOKENSTILE_ISSUER: 'http://bench.tokenstile.test', TOKENSTILE_RATE_LIMITS: 'off', TOKENSTILE_LOG_LEVEL: 'error',
    ...(sdkModule ? { TOKENSTILE_CLIENTS: `bench:${clientSecret}` } : {}),
  };
  const instances: Instance[] = [];
  let verifier: { verify(t: string): Promise<unknown>; ready(ms?: number): Promise<void>; close(): void } | null = null;
  try {
    instances.push(await startInstance(env));
    instances.push(...(await Promise.all([startInstance(env), startInstance(env)])));
    let sdk: string | null = sdkModule ? null : 'not available in this build (no src/verify)';
    if (sdkModule) {
      try {
        verifier = sdkModule.createVerifier({
          issuer: env.TOKENSTILE_ISSUER, audience: 'tokenstile', algorithms: ['ES256'], jwksUrl: `${instances[0]!.url}/.well-known/jwks.json`,
          revocations: { url: `${instances[0]!.url}/revocations/stream`, clientId: 'bench', clientSecret },
        });
        await verifier!.ready(10_000);
      } catch (err) {
        sdk = `not available: ${(err as Error).message}`;
        verifier = null;
      }
    }
    const email = `prop-${id}@example.com`;
    const password = 'bench password 1';
    await call(instances[0]!.url, 'POST', '/auth/register', { email, password });
    const times: number[] = [];
    const sdkTimes: number[] = [];
    for (let n = 0; n < logouts; n++) {
      const origin = instances[n % 3]!;
      const others = instances.filter((i) => i !== origin);
      const token = (await call(origin.url, 'POST', '/auth/login', { email, password })).json.accessToken as string;
      if (verifier) await verifier.verify(token);
      const start = performance.now();
      const logout = call(origin.url, 'POST', '/auth/logout', undefined, token);
      // Each watcher polls back to back from the moment the logout is sent until it is refused.
      const watch = async (check: () => Promise<boolean>) => {
        for (;;) {
          if (await check()) return performance.now() - start;
          if (performance.now() - start > 5000) throw new Error('a logout did not propagate within 5 s');
        }
      };
      const [res, ...arrivals] = await Promise.all([
        logout,
        ...others.map((o) => watch(async () => (await call(o.url, 'GET', '/auth/me', undefined, token)).status === 401)),
        ...(verifier ? [watch(() => verifier!.verify(token).then(() => new Promise<boolean>((r) => setImmediate(() => r(false))), () => true))] : []),
      ]);
      if ((res as { status: number }).status !== 204) throw new Error('logout failed');
      const nums = arrivals as number[];
      times.push(...nums.slice(0, 2));
      if (verifier) sdkTimes.push(nums[2]!);
    }
    return {
      p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times),
      sdk: verifier ? { p50: percentile(sdkTimes, 50), p99: percentile(sdkTimes, 99) } : sdk!,
    };
  } finally {
    verifier?.close();
    await Promise.all(instances.map((i) => i.stop()));
    await cleanUp(id, `${id}:`).catch(() => {});
  }
}
