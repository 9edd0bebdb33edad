// The feed side of acknowledging verifiers (docs/verify.md): an instance that grants verifier
// leases announces them in its heartbeats, holds its acknowledgement until its handler's promise
// settles, and publishers wait for it that much longer.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Revocation } from '../../src/core/revocation.ts';
import { connectRedis, type RedisConnection } from '../../src/stores/redis/redis-client.ts';
import { RedisRevocationFeed } from '../../src/stores/redis/redis-revocation-feed.ts';

const redisUrl = process.env.TOKENSTILE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `tstest:vl:${process.pid}:${randomBytes(4).toString('hex')}:`;
const opened: RedisConnection[] = [];
let skip: string | false = false;
await connectRedis(redisUrl, { keyPrefix: prefix })
  .then((c) => opened.push(c))
  .catch((err: Error) => {
    if (process.env.CI === 'true') throw err;
    console.log(`# SKIPPED redis verifier-lease tests: ${(skip = err.message)}`);
  });
after(async () => {
  for (const conn of opened) await conn.close();
});

const revocation = (): Revocation => ({ kind: 'session', id: randomBytes(6).toString('hex'), userId: 'u', revokedAt: Date.now(), expiresAt: Date.now() + 60_000 });

/** A started feed whose revocation handler returns `hold()`; resolves once healthy. */
async function started(hold: () => void | Promise<void> = () => {}) {
  const conn = await connectRedis(redisUrl, { keyPrefix: prefix });
  opened.push(conn);
  const feed = new RedisRevocationFeed(conn, { heartbeatMs: 50, leaseMs: 400 });
  await feed.start({ onRevocations: () => hold(), onHealth: () => {} });
  await until(() => feed.healthy, 'a healthy feed');
  return feed;
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('RedisRevocationFeed with verifier leases', { skip }, () => {
  test('announcing drops the lease until a heartbeat carrying it comes back', async () => {
    const b = await started();
    b.announceVerifierLease(600);
    assert.equal(b.healthy, false, 'kept a lease renewed by heartbeats that did not announce');
    await until(() => b.healthy, 'the lease renewed by an announcing heartbeat');
    await b.close();
  });

  test('a publish waits until the other instance\'s handler promise settles', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const b = await started(() => held);
    b.announceVerifierLease(2000);
    await until(() => b.healthy, 'b healthy again');
    const a = await started();
    // a must have heard b's announcing heartbeats.
    await new Promise((r) => setTimeout(r, 150));
    let done = false;
    const publishing = a.publish([revocation()]).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, 'the publish did not wait for b to be released');
    release();
    await publishing;
    await Promise.all([a.close(), b.close()]);
  });

  test('for an instance that never acknowledges, a publish waits its lease plus its verifier lease, and no longer', async () => {
    const b = await started(() => new Promise<void>(() => {}));
    b.announceVerifierLease(800);
    await until(() => b.healthy, 'b healthy again');
    const a = await started();
    await new Promise((r) => setTimeout(r, 150));
    const t0 = performance.now();
    await a.publish([revocation()]);
    const took = performance.now() - t0;
    // b's last heartbeat was heard at most 50 ms (a heartbeat) before: lease 400 + v 800 + 2 %.
    assert.ok(took >= 400 + 800 - 100, `the publish gave up on b after ${took.toFixed(0)} ms, before its verifier lease`);
    assert.ok(took < 400 + 800 + 1000, `the publish took ${took.toFixed(0)} ms`);
    await Promise.all([a.close(), b.close()]);
  });
});
