// Three server processes behind no load balancer but each other's ports, sharing PostgreSQL and
// Redis. A logout on one must be refused by the other two, and the time it takes is measured.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, cleanUp, percentile, postgresUrl, redisUrl, runId, sharedServicesProblem, startInstance, type Instance } from './harness.ts';

const problem = await sharedServicesProblem();
if (problem && process.env.CI !== 'true') console.log(`# SKIPPED multi-instance tests: ${problem}`);

describe('three instances on PostgreSQL + Redis', { skip: problem !== null && process.env.CI !== 'true' ? problem : false }, () => {
  const id = runId('mi');
  const prefix = `${id}:`;
  let instances: Instance[] = [];

  before(async () => {
    if (problem) throw new Error(problem); // CI=true: a missing service fails the run
    const env = {
      TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`,
      TOKENSTILE_REDIS_URL: redisUrl,
      TOKENSTILE_REDIS_PREFIX: prefix,
      TOKENSTILE_ISSUER: 'http://tokenstile.test',
      TOKENSTILE_RATE_LIMITS: 'off',
    };
    // Started together on an empty schema: they must agree on one signing key.
    instances = await Promise.all([startInstance(env), startInstance(env), startInstance(env)]);
  });

  after(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await cleanUp(id, prefix);
  });

  test('they share one signing key, and a token from one is accepted by all', async () => {
    const kids = await Promise.all(instances.map(async (i) => (await call(i.url, 'GET', '/.well-known/jwks.json')).json.keys.map((k: { kid: string }) => k.kid).join()));
    assert.equal(new Set(kids).size, 1, `JWKS differ: ${kids.join(' / ')}`);
    await call(instances[0]!.url, 'POST', '/auth/register', { email: 'one@example.com', password: 'correct horse 42' });
    const login = await call(instances[1]!.url, 'POST', '/auth/login', { email: 'one@example.com', password: 'correct horse 42' });
    assert.equal(login.status, 200);
    for (const i of instances) assert.equal((await call(i.url, 'GET', '/auth/me', undefined, login.json.accessToken)).status, 200);
  });

  test('a logout on one instance is refused by the other two; propagation p50/p99 measured', async (t) => {
    const [a, b, c] = instances as [Instance, Instance, Instance];
    const email = 'prop@example.com';
    await call(a.url, 'POST', '/auth/register', { email, password: 'correct horse 42' });
    const trials = 150;
    const tokens: string[] = [];
    for (let i = 0; i < trials; i++) tokens.push((await call(a.url, 'POST', '/auth/login', { email, password: 'correct horse 42' })).json.accessToken);
    const times: number[] = [];
    let acceptedAfterLogout = 0;
    for (const [n, token] of tokens.entries()) {
      const origin = instances[n % 3]!; // logouts rotate over the instances
      const others = instances.filter((i) => i !== origin);
      for (const o of others) assert.equal((await call(o.url, 'GET', '/auth/me', undefined, token)).status, 200);
      const sent = performance.now();
      assert.equal((await call(origin.url, 'POST', '/auth/logout', undefined, token)).status, 204);
      const done = performance.now();
      // Poll the two others until both refuse; the propagation time counts from the logout answer.
      const refusedAt = await Promise.all(
        others.map(async (o) => {
          for (let k = 0; k < 2000; k++) {
            const r = await call(o.url, 'GET', '/auth/me', undefined, token);
            if (r.status === 401) {
              assert.equal(r.json.code, 'session_revoked');
              return performance.now();
            }
            acceptedAfterLogout += 1;
          }
          throw new Error('never refused');
        }),
      );
      times.push(Math.max(0, Math.max(...refusedAt) - done));
      void sent;
    }
    void b;
    void c;
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    t.diagnostic(`revocation propagation over ${trials} logouts (logout answer → refused on both other instances): p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms; requests accepted after the logout answer: ${acceptedAfterLogout}`);
    console.log(`# propagation p50=${p50.toFixed(2)}ms p99=${p99.toFixed(2)}ms max=${Math.max(...times).toFixed(2)}ms accepted-after-logout=${acceptedAfterLogout}`);
    assert.ok(p99 < 1000, `p99 ${p99} ms: the feed is not carrying revocations`);
  });

  test('parallel refreshes of one token sent to two instances give one lineage', async () => {
    const [a, b, c] = instances as [Instance, Instance, Instance];
    await call(a.url, 'POST', '/auth/register', { email: 'race@example.com', password: 'correct horse 42' });
    for (let round = 0; round < 10; round++) {
      const login = await call(c.url, 'POST', '/auth/login', { email: 'race@example.com', password: 'correct horse 42' });
      const refreshToken = login.json.refreshToken;
      const [r1, r2] = await Promise.all([call(a.url, 'POST', '/auth/refresh', { refreshToken }), call(b.url, 'POST', '/auth/refresh', { refreshToken })]);
      assert.equal(r1.status, 200, JSON.stringify(r1.json));
      assert.equal(r2.status, 200, JSON.stringify(r2.json));
      assert.equal(r1.json.refreshToken, r2.json.refreshToken, 'both got the same successor');
      const next = await call(c.url, 'POST', '/auth/refresh', { refreshToken: r1.json.refreshToken });
      assert.equal(next.status, 200, 'and the successor works on a third instance');
    }
  });
});
