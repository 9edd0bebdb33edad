// The headline guarantee across processes: a resource server (examples/resource-server, its own
// process, verifying locally with tokenstile/verify) fed by auth-server instance B refuses a token
// logged out on instance A, through Redis (A → B) and B's revocation stream (B → verifier).
// The time from logout to refusal is measured and printed.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { call, cleanUp, freePort, percentile, postgresUrl, redisUrl, runId, sharedServicesProblem, startInstance, type Instance } from './harness.ts';
import { tcpProxy } from './tcp-proxy.ts';
import { createVerifier, type Verifier } from '../../src/verify/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const problem = await sharedServicesProblem();
if (problem && process.env.CI !== 'true') console.log(`# SKIPPED resource-server tests: ${problem}`);

const client = { id: 'orders-api', secret: 'orders-secret-0123456789abcdef' };
const issuer = 'http://tokenstile.test';

/** Starts the example resource server against `authUrl`; resolves once it listens. */
async function startExample(authUrl: string): Promise<{ url: string; process: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [`${root}examples/resource-server/server.ts`], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      TOKENSTILE_URL: authUrl,
      TOKENSTILE_ISSUER: issuer,
      ORDERS_CLIENT_ID: client.id,
      ORDERS_CLIENT_SECRET: client.secret,
      ORDERS_STALE_AFTER: '2s',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('listening on')) resolve();
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => reject(new Error(`example exited with ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`example not listening after 20 s: ${out}`)), 20_000).unref();
  });
  const exited = new Promise((r) => child.once('exit', r));
  await listening;
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function status(url: string, token: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('a resource server in its own process, fed by another instance than the one logged out on', { skip: problem !== null && process.env.CI !== 'true' ? problem : false }, () => {
  const id = runId('rs');
  const prefix = `${id}:`;
  let a: Instance;
  let b: Instance;
  let example: Awaited<ReturnType<typeof startExample>>;

  before(async () => {
    if (problem) throw new Error(problem);
    const env = {
      TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`,
      TOKENSTILE_REDIS_URL: redisUrl,
      TOKENSTILE_REDIS_PREFIX: prefix,
      TOKENSTILE_ISSUER: issuer,
      TOKENSTILE_RATE_LIMITS: 'off',
      TOKENSTILE_CLIENTS: `${client.id}:${client.secret}`,
    };
    [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
    example = await startExample(b.url);
  });

  after(async () => {
    await example?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await cleanUp(id, prefix);
  });

  test('a logout on instance A is refused by the resource server at once; time to refusal measured', async () => {
    const email = 'orders@example.com';
    await call(a.url, 'POST', '/auth/register', { email, password: 'correct horse 42' });
    const trials = 30;
    const fromRequest: number[] = [];
    const fromResponse: number[] = [];
    for (let i = 0; i < trials; i++) {
      const { accessToken } = (await call(a.url, 'POST', '/auth/login', { email, password: 'correct horse 42' })).json;
      assert.equal(await status(`${example.url}/orders`, accessToken), 200);
      const t0 = performance.now();
      assert.equal((await call(a.url, 'POST', '/auth/logout', undefined, accessToken)).status, 204);
      const t1 = performance.now();
      const deadline = t0 + 5000;
      let refused = false;
      while (performance.now() < deadline) {
        const s = await status(`${example.url}/orders`, accessToken);
        if (s === 401) {
          refused = true;
          break;
        }
        assert.equal(s, 200, example.output());
      }
      assert.ok(refused, `trial ${i}: still accepted 5 s after logout`);
      const t2 = performance.now();
      fromRequest.push(t2 - t0);
      fromResponse.push(t2 - t1);
    }
    const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
    console.log(`# logout on A → refusal by the SDK verifier fed by B (Redis + SSE), ${trials} trials: from the logout request ${fmt(fromRequest)}; from its 204 ${fmt(fromResponse)}`);
    const res = await fetch(`${example.url}/orders`, { headers: { authorization: `Bearer ${(await call(a.url, 'POST', '/auth/login', { email, password: 'correct horse 42' })).json.accessToken}` } });
    assert.equal(res.status, 200);
  });

  /** An acknowledging verifier in this process, streaming from `base` (B, or a proxy to B). */
  async function acknowledgingVerifier(base: string): Promise<Verifier> {
    const v = createVerifier({
      issuer,
      audience: 'tokenstile',
      algorithms: ['ES256'],
      jwksUrl: `${b.url}/.well-known/jwks.json`,
      revocations: { clientId: client.id, clientSecret: client.secret, url: `${base}/revocations/stream`, introspectionUrl: `${b.url}/oauth/introspect`, acknowledge: true },
    });
    await v.ready(20_000);
    return v;
  }

  async function verdict(v: Verifier, token: string): Promise<string> {
    try {
      await v.verify(token);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  }

  test('an acknowledging verifier fed by B refuses every token logged out on A the moment the logout answers, under concurrent load', async () => {
    const v = await acknowledgingVerifier(b.url);
    const password = 'correct horse 42';
    await call(a.url, 'POST', '/auth/register', { email: 'ack-live@example.com', password });
    const live = (await call(a.url, 'POST', '/auth/login', { email: 'ack-live@example.com', password })).json.accessToken as string;
    let running = true;
    let requests = 0;
    let unavailable = 0;
    // Background protected requests on both instances, and verifications at the verifier.
    const load = Array.from({ length: 4 }, async (_, i) => {
      while (running) {
        assert.equal((await call(i % 2 === 0 ? a.url : b.url, 'GET', '/auth/me', undefined, live)).status, 200);
        const seen = await verdict(v, live);
        if (seen === 'service_unavailable') unavailable += 1;
        else assert.equal(seen, 'ok');
        requests += 1;
      }
    });
    const workers = 3;
    const perWorker = 40;
    let accepted = 0;
    const latencies: number[] = [];
    try {
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          const email = `ack-${w}@example.com`;
          await call(a.url, 'POST', '/auth/register', { email, password });
          for (let i = 0; i < perWorker; i++) {
            const token = (await call(a.url, 'POST', '/auth/login', { email, password })).json.accessToken as string;
            // A fresh token is accepted once the verifier holds a lease (it may lapse under load).
            const deadline = Date.now() + 10_000;
            let before = await verdict(v, token);
            while (before === 'service_unavailable' && Date.now() < deadline) {
              await new Promise((r) => setTimeout(r, 20));
              before = await verdict(v, token);
            }
            assert.equal(before, 'ok');
            const t0 = performance.now();
            assert.equal((await call(a.url, 'POST', '/auth/logout', undefined, token)).status, 204);
            latencies.push(performance.now() - t0);
            if ((await verdict(v, token)) === 'ok') accepted += 1;
          }
        }),
      );
    } finally {
      running = false;
      await Promise.allSettled(load);
      v.close();
    }
    const n = workers * perWorker;
    console.log(
      `# acknowledging verifier on B, logouts on A under load (${requests} background requests, ${unavailable} answered 503 while its lease lapsed): ` +
        `${accepted} of ${n} ended tokens accepted after the answer; logout p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`,
    );
    assert.equal(accepted, 0);
  });

  test('an acknowledging verifier whose stream freezes stops trusting within its lease; a logout on A meanwhile answers within the two leases', async () => {
    const proxy = await tcpProxy(b.port);
    const v = await acknowledgingVerifier(`http://127.0.0.1:${proxy.port}`);
    try {
      const password = 'correct horse 42';
      await call(a.url, 'POST', '/auth/register', { email: 'frozen@example.com', password });
      const token = (await call(a.url, 'POST', '/auth/login', { email: 'frozen@example.com', password })).json.accessToken as string;
      assert.equal(await verdict(v, token), 'ok');
      const frozenAt = performance.now();
      proxy.freeze();
      const t0 = performance.now();
      assert.equal((await call(a.url, 'POST', '/auth/logout', undefined, token)).status, 204);
      const took = performance.now() - t0;
      assert.equal(v.fresh, false, 'the logout answered while the verifier still trusted its list');
      assert.notEqual(await verdict(v, token), 'ok');
      // Instance lease (1.5 s) + verifier lease (1.5 s) + 2 % each.
      assert.ok(took < 3060 + 500, `the logout took ${took.toFixed(0)} ms`);
      while (performance.now() < frozenAt + 1500) await new Promise((r) => setTimeout(r, 10));
      assert.equal(v.fresh, false, 'trusted its list longer than its lease after the freeze');
      console.log(`# acknowledging verifier behind a frozen connection to B: logout on A answered in ${took.toFixed(0)} ms`);
      proxy.thaw();
      const deadline = Date.now() + 10_000;
      while ((await verdict(v, token)) !== 'session_revoked' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await verdict(v, token), 'session_revoked');
    } finally {
      v.close();
      await proxy.close();
    }
  });

  test('a global logout on A ends every session at the resource server, the revocations made while it was connected included', async () => {
    const email = 'global@example.com';
    await call(a.url, 'POST', '/auth/register', { email, password: 'correct horse 42' });
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await call(b.url, 'POST', '/auth/login', { email, password: 'correct horse 42' })).json.accessToken);
    for (const t of tokens) assert.equal(await status(`${example.url}/orders`, t), 200);
    assert.equal((await call(a.url, 'POST', '/auth/logout', { scope: 'global' }, tokens[0])).status, 204);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await Promise.all(tokens.map((t) => status(`${example.url}/orders`, t)))).some((s) => s !== 401)) await new Promise((r) => setTimeout(r, 10));
    for (const t of tokens) {
      const res = await fetch(`${example.url}/orders`, { headers: { authorization: `Bearer ${t}` } });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'session_revoked');
    }
  });

  test('a key rotation by the CLI reaches the running instances and the resource server without a restart', async () => {
    const { runCli } = await import('../../src/cli/main.ts');
    const email = 'rotate@example.com';
    await call(a.url, 'POST', '/auth/register', { email, password: 'correct horse 42' });
    const login = async () => (await call(a.url, 'POST', '/auth/login', { email, password: 'correct horse 42' })).json.accessToken as string;
    const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
    const before = await login();
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: () => {}, readStdin: async () => '' };
    const env = { TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`, TOKENSTILE_ISSUER: issuer };
    assert.equal(await runCli(['keys', 'rotate', '--publish-ahead', '12s', '--json'], io, env), 0);
    const { kid } = JSON.parse(lines[0]!);
    // Every instance re-reads the keys within 10 s, so all publish the key before it signs (at 12 s).
    const deadline = Date.now() + 25_000;
    let after = await login();
    while (kidOf(after) !== kid && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      after = await login();
    }
    assert.equal(kidOf(after), kid, 'instance A signs with the rotated-in key');
    assert.notEqual(kidOf(before), kid);
    for (const token of [before, after]) assert.equal(await status(`${example.url}/orders`, token), 200, 'the SDK finds the new key by itself');
    assert.equal((await call(b.url, 'GET', '/auth/me', undefined, before)).status, 200);
    // Instance B has reloaded too (it may lag A by up to the reload interval).
    let onB = 0;
    while ((onB = (await call(b.url, 'GET', '/auth/me', undefined, after)).status) !== 200 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 250));
    assert.equal(onB, 200);
  });

  test('when its auth instance dies, the resource server refuses with 503 past the staleness bound instead of trusting a stale list', async () => {
    const email = 'stale@example.com';
    await call(a.url, 'POST', '/auth/register', { email, password: 'correct horse 42' });
    const { accessToken } = (await call(a.url, 'POST', '/auth/login', { email, password: 'correct horse 42' })).json;
    assert.equal(await status(`${example.url}/orders`, accessToken), 200);
    await b.stop('SIGKILL');
    const deadline = Date.now() + 10_000;
    let s = 200;
    while (Date.now() < deadline && (s = await status(`${example.url}/orders`, accessToken)) === 200) await new Promise((r) => setTimeout(r, 50));
    assert.equal(s, 503);
    const ready = await fetch(`${example.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { fresh: boolean }).fresh, false);
  });
});
