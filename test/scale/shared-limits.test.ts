// Rate limits counted in Redis: three instances hold one limit, not three.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, cleanUp, postgresUrl, redisUrl, runId, sharedServicesProblem, startInstance, type Instance } from './harness.ts';

const problem = await sharedServicesProblem();
if (problem && process.env.CI !== 'true') console.log(`# SKIPPED shared rate-limit tests: ${problem}`);

describe('rate limits shared by three instances', { skip: problem !== null && process.env.CI !== 'true' ? problem : false }, () => {
  const id = runId('rl');
  let instances: Instance[] = [];
  before(async () => {
    if (problem) throw new Error(problem);
    const env = {
      TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`,
      TOKENSTILE_REDIS_URL: redisUrl,
      TOKENSTILE_REDIS_PREFIX: `${id}:`,
      TOKENSTILE_ISSUER: 'http://tokenstile.test',
    };
    instances = [await startInstance(env)];
    instances.push(...(await Promise.all([startInstance(env), startInstance(env)])));
  });
  after(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await cleanUp(id, `${id}:`);
  });

  test('20 registrations per IP per hour, counted across all instances', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await call(instances[i % 3]!.url, 'POST', '/auth/register', { email: `r${i}@example.com`, password: 'correct horse 42' });
      assert.equal(res.status, 201, `registration ${i + 1} on instance ${i % 3}`);
    }
    // Each instance alone has seen at most 7; together they have seen 20.
    for (const instance of instances) {
      const res = await call(instance.url, 'POST', '/auth/register', { email: `over-${instance.port}@example.com`, password: 'correct horse 42' });
      assert.equal(res.status, 429);
      assert.equal(res.json.code, 'too_many_requests');
    }
  });
});
