import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { Cluster } from 'ioredis';
import type { Revocation } from '../../src/core/revocation.ts';
import { checkEvictionPolicy, connectRedis } from '../../src/stores/redis/redis-client.ts';
import type { RedisConnection } from '../../src/stores/redis/redis-client.ts';
import { RedisRateLimiter } from '../../src/stores/redis/redis-rate-limiter.ts';
import { RedisRevocationFeed } from '../../src/stores/redis/redis-revocation-feed.ts';
import { RedisSessionCache } from '../../src/stores/redis/redis-session-cache.ts';

const uid = () => randomBytes(6).toString('hex');
const t0 = Date.UTC(2026, 0, 1);
const prefix = `tstest:${process.pid}:${uid()}:`;

const missing = spawnSync('redis-server', ['--version']).error;
const skip = missing ? `redis-server is not installed (${missing.message})` : false;
if (skip) {
  if (process.env.CI === 'true') throw new Error(skip);
  console.log(`# SKIPPED redis backend: ${skip}`);
}

/** True when nothing listens on 127.0.0.1:`port`. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port P whose cluster bus port P + 10000 is free too. */
async function clusterPort(taken: number[]): Promise<number> {
  for (;;) {
    const port = randomInt(17_000, 27_000);
    if (!taken.includes(port) && (await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
}

/** Starts `redis-server` with `args`; resolves once it accepts connections. */
function startServer(children: ChildProcess[], args: string[]): Promise<void> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject).once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk: Buffer) => /Ready to accept connections|Sentinel ID is/.test((out += chunk.toString())) && resolve());
  });
}

/** A promise and its resolve (Promise.withResolvers is ES2024). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Redis Cluster (3 masters started here)', { skip, timeout: 20_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tstest-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const opened: RedisConnection[] = [];
  const cleanup = () => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  // Also when the run dies before `after`: no server outlives the test process.
  process.once('exit', cleanup);
  let redis: RedisConnection;
  const connect = async () => {
    const conn = await connectRedis(`redis+cluster://127.0.0.1:${ports[0]}`, { keyPrefix: prefix });
    opened.push(conn);
    return conn;
  };

  before(async () => {
    for (let i = 0; i < 3; i++) ports.push(await clusterPort(ports));
    await Promise.all(ports.map((port) => startServer(children, ['--port', `${port}`, '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'])));
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    // Gossip converges on its own schedule; there is no event to wait for, so poll.
    for (const port of ports) {
      const node = new Redis({ port, host: '127.0.0.1' });
      while (!String(await node.cluster('INFO')).includes('cluster_state:ok')) await sleep(50);
      node.disconnect();
    }
    redis = await connect();
  });
  after(async () => {
    for (const conn of opened) await conn.close();
    cleanup();
    process.off('exit', cleanup);
  });

  test('the revocation channels spread over the shards', async () => {
    const masters = new Set<string>();
    const slots = await redis.client.cluster('SLOTS');
    for (let i = 0; i < 16; i++) {
      const slot = Number(await redis.client.cluster('KEYSLOT', `${prefix}revocations:{${i}}`));
      const owner = slots.find(([from, to]) => from <= slot && slot <= to);
      masters.add(String(owner?.[2]?.[1]));
    }
    assert.equal(masters.size, 3);
  });

  test('revocations of many sessions, on every shard, all reach another instance', async () => {
    const [a, b] = [new RedisRevocationFeed(await connect(), { heartbeatMs: 50, leaseMs: 1000 }), new RedisRevocationFeed(await connect(), { heartbeatMs: 50, leaseMs: 1000 })];
    const received: Revocation[] = [];
    const healthy = signal();
    const all = signal();
    const sent: Revocation[] = Array.from({ length: 200 }, () => ({ kind: 'session', id: uid(), userId: uid(), revokedAt: t0, expiresAt: t0 + 900_000 }));
    await a.start({ onRevocations() {}, onHealth() {} });
    await b.start({
      onRevocations: (list) => void (received.push(...list), received.length >= sent.length && all.resolve()),
      onHealth: (ok) => ok && healthy.resolve(),
    });
    // Healthy means a heartbeat came back on all 16 channels, so every shard's subscription works.
    await healthy.promise;
    for (let i = 0; i < sent.length; i += 20) await a.publish(sent.slice(i, i + 20));
    await all.promise;
    assert.deepEqual(new Set(received.map((r) => r.id)), new Set(sent.map((r) => r.id)));
    assert.equal(received.length, sent.length);
    await Promise.all([a.close(), b.close()]);
  });

  test('a killed shard subscriber makes the feed unhealthy until ioredis resubscribes it', async () => {
    const name = `tstest-${uid()}`;
    const feed = new RedisRevocationFeed(await connect(), { heartbeatMs: 50, leaseMs: 1000, connectionName: name });
    const node = new Redis({ port: ports[2], host: '127.0.0.1' });
    const health: boolean[] = [];
    let changed = signal();
    try {
      await feed.start({ onRevocations() {}, onHealth: (ok) => (health.push(ok), changed.resolve()) });
      await changed.promise;
      const list = [...String(await node.client('LIST')).matchAll(/id=(\d+) .*name=(\S+)/g)];
      const ids = list.filter((m) => m[2] === `ioredis-cluster(ssubscriber):${name}`).map((m) => m[1]!);
      assert.equal(ids.length, 1);
      changed = signal();
      await node.client('KILL', 'ID', ids[0]!);
      await changed.promise;
      changed = signal();
      await changed.promise;
      assert.deepEqual(health, [true, false, true]);
    } finally {
      node.disconnect();
      await feed.close();
    }
  });

  test('the rate limiter counts exactly for keys in every slot', async () => {
    const limiter = new RedisRateLimiter(redis);
    const keys = Array.from({ length: 20 }, uid);
    const decisions = await Promise.all(keys.map((key) => Promise.all(Array.from({ length: 12 }, () => limiter.hit(key, 5, 60_000, t0)))));
    for (const perKey of decisions) assert.equal(perKey.filter((d) => d.allowed).length, 5);
    await limiter.reset(keys[0]!);
    assert.deepEqual(await limiter.hit(keys[0]!, 5, 60_000, t0 + 1), { allowed: true, remaining: 4, retryAfterMs: 0 });
    assert.deepEqual(await limiter.hit(keys[1]!, 5, 60_000, t0 + 1), { allowed: false, remaining: 0, retryAfterMs: 59_999 });
  });

  test('the session cache keeps each user in one slot and drops by version', async () => {
    const cache = new RedisSessionCache(redis);
    for (let i = 0; i < 20; i++) {
      const user = { userId: uid() };
      const [a, b] = [{ ...user, sessionId: uid() }, { ...user, sessionId: uid() }];
      for (const scope of [user, a, b]) await cache.set(scope, await cache.version(scope), 'k', `v${i}`, 60_000);
      assert.deepEqual(await Promise.all([user, a, b].map((s) => cache.get(s, 'k'))), [`v${i}`, `v${i}`, `v${i}`]);
      await cache.dropSession(a.userId, a.sessionId);
      assert.deepEqual(await Promise.all([user, a, b].map((s) => cache.get(s, 'k'))), [`v${i}`, null, `v${i}`]);
      const stale = await cache.version(b);
      await cache.dropUser(user.userId);
      await cache.set(b, stale, 'k', 'stale', 60_000);
      assert.deepEqual(await Promise.all([user, a, b].map((s) => cache.get(s, 'k'))), [null, null, null]);
    }
  });

  test('checkEvictionPolicy reads every master and names the one that may evict; a refused CONFIG is no warning', async () => {
    assert.equal(await checkEvictionPolicy(redis.client), null);
    // A plain connection to one node takes the one-server path.
    const node = await connectRedis(`redis://127.0.0.1:${ports[1]}`);
    opened.push(node);
    await node.client.config('SET', 'maxmemory-policy', 'volatile-lru');
    for (const client of [redis.client, node.client]) assert.match((await checkEvictionPolicy(client)) ?? '', new RegExp(`volatile-lru on 127\\.0\\.0\\.1:${ports[1]}(?!\\d)`));
    // A user without CONFIG, as on managed Redis: the policy cannot be read, so no warning.
    for (const master of (redis.client as Cluster).nodes('master')) await master.acl('SETUSER', 'limited', 'on', '>p@ss/word', '~*', '&*', '+@all', '-config');
    const limited = await connectRedis(`redis+cluster://limited:p@ss/word@127.0.0.1:${ports[0]}`);
    opened.push(limited);
    assert.equal(await limited.client.ping(), 'PONG');
    assert.equal(await checkEvictionPolicy(limited.client), null);
    await node.client.config('SET', 'maxmemory-policy', 'noeviction');
    assert.equal(await checkEvictionPolicy(redis.client), null);
  });

  test('redis+sentinel:// finds the master through Sentinel', async () => {
    const [port, sentinelPort] = [await clusterPort(ports), await clusterPort(ports)];
    writeFileSync(join(dir, 'sentinel.conf'), `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor tsmaster 127.0.0.1 ${port} 1\n`);
    await startServer(children, ['--port', `${port}`, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await startServer(children, [join(dir, 'sentinel.conf'), '--sentinel']);
    const viaSentinel = await connectRedis(`redis+sentinel://127.0.0.1:${sentinelPort}/tsmaster/2`);
    const direct = await connectRedis(`redis://127.0.0.1:${port}/2`);
    opened.push(viaSentinel, direct);
    await viaSentinel.client.set('via', 'sentinel');
    assert.equal(await direct.client.get('via'), 'sentinel');
  });
});
