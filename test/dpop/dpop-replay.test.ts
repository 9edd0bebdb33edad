// DPoP proof replay (RFC 9449 §11.1): a proof's jti is accepted once. In memory on one instance;
// through Redis across instances (a proof used on A is refused on B); and a replay store that
// cannot answer refuses the proof with 503 rather than accepting it unchecked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.ts';
import { MemoryProofReplayStore } from '../../src/core/proof-replay.ts';
import { goodPassword, tempDir, testApp, testBackend, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem } from '../http/problem-assertions.ts';
import { redisUrl, runId } from '../scale/harness.ts';
import { spareRedis, spareServicesProblem, type SpareServer } from '../scale/spare-services.ts';
import { proof, proofKey, type ProofKey } from './proof-helpers.ts';

async function boundLogin(app: TestApp, key: ProofKey): Promise<TokenBody> {
  const email = uniqueEmail();
  const reg = await app.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  assert.equal(reg.statusCode, 201, reg.body);
  const res = await app.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', app.clock.now()) } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

const meWith = (app: TestApp, token: string, dpop: string) => app.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `DPoP ${token}`, dpop } });

describe('MemoryProofReplayStore', () => {
  test('a key is claimed once within its TTL, and again after it', () => {
    const clock = new ManualClock();
    const store = new MemoryProofReplayStore({ now: () => clock.now() });
    assert.equal(store.claim('a', 1000), true);
    assert.equal(store.claim('a', 1000), false);
    assert.equal(store.claim('b', 1000), true);
    clock.advance(1001);
    assert.equal(store.claim('a', 1000), true, 'forgotten after its TTL');
    assert.equal(store.size, 1, 'expired keys are dropped');
  });

  test('past its capacity the oldest key goes, and the overflow is reported once', () => {
    let overflows = 0;
    const store = new MemoryProofReplayStore({ capacity: 2, onOverflow: () => overflows++ });
    store.claim('a', 60_000);
    store.claim('b', 60_000);
    store.claim('c', 60_000);
    store.claim('d', 60_000);
    assert.equal(store.size, 2);
    assert.equal(overflows, 1);
    assert.equal(store.claim('d', 60_000), false);
  });
});

describe('one instance: a proof is accepted once', () => {
  test('the same proof twice: the second is refused', async () => {
    const t = await testApp();
    try {
      const key = await proofKey();
      const s = await boundLogin(t, key);
      const dpop = await proof(key, 'GET', '/auth/me', t.clock.now(), s.accessToken);
      assert.equal((await meWith(t, s.accessToken, dpop)).statusCode, 200);
      expectProblem(await meWith(t, s.accessToken, dpop), 401, 'invalid_dpop_proof');
    } finally {
      await t.close();
    }
  });
});

describe('two instances sharing Redis', () => {
  const dir = tempDir();
  const shared = testBackend(`sqlite:${dir.path}/dpop.db`);
  const prefix = `${runId('dpop')}:`;
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    const options = { ...shared.options, redisUrl, redisKeyPrefix: prefix };
    a = await testApp(options);
    b = await testApp(options);
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await shared.cleanup();
    dir.cleanup();
    // The run's keys (proof jtis expire by themselves within two minutes; removed now anyway).
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl);
    try {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });

  test('a proof used on instance A is refused on instance B', async () => {
    const key = await proofKey();
    const s = await boundLogin(a, key);
    const dpop = await proof(key, 'GET', '/auth/me', a.clock.now(), s.accessToken);
    assert.equal((await meWith(a, s.accessToken, dpop)).statusCode, 200);
    const replay = await meWith(b, s.accessToken, dpop);
    expectProblem(replay, 401, 'invalid_dpop_proof');
    assert.match(String(replay.headers['www-authenticate']), /^DPoP error="invalid_dpop_proof"/);
    // A fresh proof works on B: the refusal was the replay, not B.
    const fresh = await meWith(b, s.accessToken, await proof(key, 'GET', '/auth/me', b.clock.now(), s.accessToken));
    assert.equal(fresh.statusCode, 200, fresh.body);
  });

  test('a sign-in proof used on A is refused on B', async () => {
    const key = await proofKey();
    const email = uniqueEmail();
    await a.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    const dpop = await proof(key, 'POST', '/auth/login', a.clock.now());
    const first = await a.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop } });
    assert.equal(first.statusCode, 200, first.body);
    expectProblem(await b.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop } }), 400, 'invalid_dpop_proof');
  });
});

describe('a replay store outage', async () => {
  const noRedis = (await spareServicesProblem()) ?? false;
  let redis: SpareServer;
  let t: TestApp;
  before(async () => {
    if (noRedis) return;
    redis = await spareRedis();
    await redis.start();
    t = await testApp({ databaseUrl: 'sqlite::memory:', redisUrl: redis.url, redisKeyPrefix: 'dpop-outage:' });
  });
  after(async () => {
    await t?.close();
    await redis?.stop();
  });

  test('refuses the proof with 503 service_unavailable, never accepts it unchecked', { skip: noRedis }, async () => {
    const key = await proofKey();
    const s = await boundLogin(t, key);
    assert.equal((await meWith(t, s.accessToken, await proof(key, 'GET', '/auth/me', t.clock.now(), s.accessToken))).statusCode, 200);
    await redis.kill();
    const res = await meWith(t, s.accessToken, await proof(key, 'GET', '/auth/me', t.clock.now(), s.accessToken));
    expectProblem(res, 503, 'service_unavailable');
    assert.ok(res.headers['retry-after'], 'Retry-After');
    // A Bearer session needs no proof: unaffected by the replay store.
    const email = uniqueEmail();
    await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
    assert.equal(login.statusCode, 200, login.body);
  });
});
