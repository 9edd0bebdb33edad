import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, StoreUnavailableError } from '../../src/core/errors.ts';
import { openRedisBackends } from '../../src/stores/redis/redis-backends.ts';
import type { RateLimiter } from '../../src/core/rate-limiter.ts';
import type { Revocation } from '../../src/core/revocation.ts';
import type { CacheScope, SessionCache } from '../../src/core/session-cache.ts';
import { MemoryRateLimiter } from '../../src/core/memory-rate-limiter.ts';
import { MemorySessionCache } from '../../src/core/memory-session-cache.ts';
import { connectRedis } from '../../src/stores/redis/redis-client.ts';
import type { RedisConnection } from '../../src/stores/redis/redis-client.ts';
import { RedisRateLimiter } from '../../src/stores/redis/redis-rate-limiter.ts';
import { RedisRevocationFeed } from '../../src/stores/redis/redis-revocation-feed.ts';
import { RedisSessionCache } from '../../src/stores/redis/redis-session-cache.ts';

const redisUrl = process.env.TOKENSTILE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `tstest:${process.pid}:${randomBytes(4).toString('hex')}:`;
const uid = () => randomBytes(6).toString('hex');
const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;

const opened: RedisConnection[] = [];
/** A new connection with this run's key prefix, closed after the run. */
async function connect(url = redisUrl, connectionName?: string): Promise<RedisConnection> {
  const conn = await connectRedis(url, { keyPrefix: prefix, connectionName });
  opened.push(conn);
  return conn;
}
let skip: string | false = false;
const redis = await connect().catch((err: Error) => {
  if (process.env.CI === 'true') throw err;
  console.log(`# SKIPPED redis backend: ${(skip = err.message)}`);
});
after(async () => {
  for (let cursor = '0', keys: string[]; redis; ) {
    [cursor, keys] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.client.del(...keys);
    if (cursor === '0') break;
  }
  for (const conn of opened) await conn.close();
});

/** The RateLimiter contract, for one backend; `make` returns a limiter with no history. */
function describeRateLimiter(name: string, make: () => RateLimiter, skip: string | false = false): void {
  describe(`RateLimiter conformance: ${name}`, { skip }, () => {
    test('allows `limit` attempts in a window, refuses the next; the window slides and retryAfterMs says when', async () => {
      const [limiter, key] = [make(), uid()];
      const hit = (at: number) => limiter.hit(key, 3, minute, t0 + at);
      for (const [at, remaining] of [[0, 2], [10_000, 1], [20_000, 0]] as const) assert.deepEqual(await hit(at), { allowed: true, remaining, retryAfterMs: 0 });
      assert.deepEqual(await hit(30_000), { allowed: false, remaining: 0, retryAfterMs: 30_000 });
      assert.deepEqual(await hit(59_999), { allowed: false, remaining: 0, retryAfterMs: 1 });
      assert.deepEqual(await hit(60_000), { allowed: true, remaining: 0, retryAfterMs: 0 });
      assert.deepEqual(await hit(65_000), { allowed: false, remaining: 0, retryAfterMs: 5_000 });
      assert.deepEqual(await hit(200_000), { allowed: true, remaining: 2, retryAfterMs: 0 });
    });

    test('reset forgets one key; other keys are independent', async () => {
      const [limiter, a, b] = [make(), uid(), uid()];
      for (const key of [a, a, b, b]) await limiter.hit(key, 1, minute, t0);
      await limiter.reset(a);
      assert.deepEqual(await limiter.hit(a, 1, minute, t0), { allowed: true, remaining: 0, retryAfterMs: 0 });
      assert.deepEqual(await limiter.hit(b, 1, minute, t0), { allowed: false, remaining: 0, retryAfterMs: minute });
      assert.equal((await limiter.hit(uid(), 1, minute, t0)).allowed, true);
    });

    test('peek answers what hit would, records nothing, and a smaller window sees only recent attempts', async () => {
      const [limiter, key] = [make(), uid()];
      assert.deepEqual(await limiter.peek(key, 3, minute, t0), { allowed: true, remaining: 3, retryAfterMs: 0 });
      await limiter.hit(key, 3, minute, t0);
      await limiter.hit(key, 3, minute, t0 + 10_000);
      for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.peek(key, 3, minute, t0 + 20_000), { allowed: true, remaining: 1, retryAfterMs: 0 });
      assert.deepEqual(await limiter.peek(key, 2, minute, t0 + 20_000), { allowed: false, remaining: 0, retryAfterMs: 40_000 });
      // "Anything in the last 5 s?": the attempt at 10 s is; 5 s later it is not.
      assert.deepEqual(await limiter.peek(key, 1, 5_000, t0 + 12_000), { allowed: false, remaining: 0, retryAfterMs: 3_000 });
      assert.deepEqual(await limiter.peek(key, 1, 5_000, t0 + 15_000), { allowed: true, remaining: 1, retryAfterMs: 0 });
      assert.deepEqual(await limiter.peek(key, 3, minute, t0 + 60_000), { allowed: true, remaining: 2, retryAfterMs: 0 }, 'the first left the window');
      assert.deepEqual(await limiter.hit(key, 3, minute, t0 + 20_000), { allowed: true, remaining: 0, retryAfterMs: 0 }, 'peeks counted nothing');
    });

    test('50 concurrent attempts on one key are all counted', async () => {
      const [limiter, key, wide] = [make(), uid(), uid()];
      const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.hit(key, 20, minute, t0)));
      const remaining = decisions.filter((d) => d.allowed).map((d) => d.remaining);
      assert.deepEqual(remaining.sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
      await Promise.all(Array.from({ length: 50 }, () => limiter.hit(wide, 100, minute, t0)));
      assert.equal((await limiter.hit(wide, 100, minute, t0)).remaining, 49);
    });
  });
}

/** The SessionCache contract, for one backend; `make` returns an empty cache and a way to let its time pass. */
function describeSessionCache(name: string, make: () => { cache: SessionCache; pass(ms: number): Promise<void> }, skip: string | false = false): void {
  describe(`SessionCache conformance: ${name}`, { skip }, () => {
    const scopes = (userId = uid()) => ({ user: { userId }, a: { userId, sessionId: uid() }, b: { userId, sessionId: uid() }, other: { userId: uid() } });
    const put = async (cache: SessionCache, scope: CacheScope, value = 'v', ttlMs = minute) => cache.set(scope, await cache.version(scope), 'k', value, ttlMs);
    const read = (cache: SessionCache, ...list: CacheScope[]) => Promise.all(list.map((scope) => cache.get(scope, 'k')));

    test('get returns what set stored, per scope and key', async () => {
      const { cache } = make();
      const { user, a, b, other } = scopes();
      await Promise.all([put(cache, user, 'u'), put(cache, a, 'a')]);
      assert.deepEqual(await read(cache, user, a, b, other), ['u', 'a', null, null]);
      assert.equal(await cache.get(user, 'other-key'), null);
      await put(cache, user, 'u2');
      assert.equal(await cache.get(user, 'k'), 'u2');
    });

    test('an entry is gone once its ttl has passed', async () => {
      const { cache, pass } = make();
      const { user, a } = scopes();
      const ttl = 1_000;
      const setAt = performance.now();
      await put(cache, user, 'short', ttl);
      await put(cache, a, 'long', minute);
      const before = await read(cache, user, a);
      // Redis counts the ttl in real time: a read that a busy machine delayed past it shows nothing.
      if (performance.now() < setAt + ttl) assert.deepEqual(before, ['short', 'long']);
      else assert.equal(before[1], 'long');
      await pass(ttl + 30);
      assert.deepEqual(await read(cache, user, a), [null, 'long']);
    });

    test('dropUser makes the user scope and all of its sessions unreadable', async () => {
      const { cache } = make();
      const { user, a, b, other } = scopes();
      for (const scope of [user, a, b, other]) await put(cache, scope);
      const before = await cache.version(a);
      await cache.dropUser(user.userId);
      assert.deepEqual(await read(cache, user, a, b, other), [null, null, null, 'v']);
      assert.notEqual(await cache.version(a), before);
      await put(cache, a, 'fresh');
      assert.equal(await cache.get(a, 'k'), 'fresh');
    });

    test('dropSession makes only that session unreadable', async () => {
      const { cache } = make();
      const { user, a, b } = scopes();
      for (const scope of [user, a, b]) await put(cache, scope);
      await cache.dropSession(a.userId, a.sessionId);
      assert.deepEqual(await read(cache, user, a, b), ['v', null, 'v']);
    });

    test('a set with a version read before a drop is never readable', async () => {
      const { cache } = make();
      const { user, a } = scopes();
      const [userVersion, sessionVersion] = [await cache.version(user), await cache.version(a)];
      await cache.dropUser(user.userId);
      await cache.set(user, userVersion, 'k', 'stale', minute);
      await cache.set(a, sessionVersion, 'k', 'stale', minute);
      const beforeSessionDrop = await cache.version(a);
      await cache.dropSession(a.userId, a.sessionId);
      await cache.set(a, beforeSessionDrop, 'k', 'stale', minute);
      assert.deepEqual(await read(cache, user, a), [null, null]);
    });

    test('a set racing a drop is never readable, whichever lands first', async () => {
      const { cache } = make();
      for (let i = 0; i < 20; i++) {
        const { user, a } = scopes();
        const [userVersion, sessionVersion] = [await cache.version(user), await cache.version(a)];
        await Promise.all([cache.set(user, userVersion, 'k', 'v', minute), cache.set(a, sessionVersion, 'k', 'v', minute), cache.dropUser(user.userId)]);
        assert.deepEqual(await read(cache, user, a), [null, null]);
      }
    });
  });
}

describeRateLimiter('memory', () => new MemoryRateLimiter());
describeRateLimiter('redis', () => new RedisRateLimiter(redis!), skip);
const clock = { now: t0 };
describeSessionCache('memory', () => ({ cache: new MemorySessionCache({ now: () => clock.now }), pass: async (ms) => void (clock.now += ms) }));
// Redis expires keys on its own clock: the one place these tests wait for real.
describeSessionCache('redis', () => ({ cache: new RedisSessionCache(redis!), pass: (ms) => sleep(ms) }), skip);

describe('RedisSessionCache', { skip }, () => {
  test('stores nothing under a stale version, and keeps a version key at least as long as its values', async () => {
    const [cache, user] = [new RedisSessionCache(redis!), { userId: uid() }];
    const stale = await cache.version(user);
    await cache.dropUser(user.userId);
    await cache.set(user, stale, 'k', 'stale', minute);
    const versionKey = `${prefix}cache:{u:${user.userId}}:v`;
    assert.deepEqual(await redis!.client.keys(`${prefix}cache:{u:${user.userId}}:*`), [versionKey]);
    assert.ok((await redis!.client.pttl(versionKey)) > 86_000_000);
    await redis!.client.pexpire(versionKey, 100);
    await cache.set(user, await cache.version(user), 'k', 'v', minute);
    assert.ok((await redis!.client.pttl(versionKey)) > minute - 1_000);
  });
});

/** Records what a feed delivers; `until` resolves as soon as a condition holds. */
class FeedProbe {
  readonly revocations: Revocation[] = [];
  readonly health: boolean[] = [];
  readonly #waiters = new Set<() => void>();
  readonly handlers = {
    onRevocations: (list: Revocation[]) => (this.revocations.push(...list), this.#waiters.forEach((wake) => wake())),
    onHealth: (healthy: boolean) => (this.health.push(healthy), this.#waiters.forEach((wake) => wake())),
  };
  until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (this.#waiters.delete(wake), reject(new Error(`timed out waiting for ${what}`))), ms);
      const wake = () => check() && (clearTimeout(timer), this.#waiters.delete(wake), resolve());
      this.#waiters.add(wake);
      wake();
    });
  }
}

describe('RedisRevocationFeed', { skip }, () => {
  const revocation = (): Revocation => ({ kind: 'session', id: uid(), userId: uid(), revokedAt: t0, expiresAt: t0 + 15 * minute });
  const leaseMs = 1000;
  /** A started feed on its own connections, once healthy. */
  async function started(connectionName = `tstest-${uid()}`) {
    const [conn, probe] = [await connect(), new FeedProbe()];
    const feed = new RedisRevocationFeed(conn, { heartbeatMs: 50, leaseMs, connectionName });
    await feed.start(probe.handlers);
    await probe.until(() => feed.healthy, 'a healthy feed');
    return { conn, feed, probe, connectionName };
  }
  /**
   * Another instance, played by hand on the channel: it heartbeats every 50 ms until stopped, and
   * acknowledges revocations only when `acks` is set.
   */
  async function ghost(options: { acks: boolean }) {
    const id = `ghost-${uid()}`;
    const sub = await connect();
    const subscriber = sub.subscriber(`tstest-${id}`);
    subscriber.on('message', (_channel: string, message: string) => {
      const body = JSON.parse(message) as { r?: unknown; m?: string; q?: number };
      if (options.acks && Array.isArray(body.r) && typeof body.m === 'string') {
        void redis!.client.publish(`${prefix}revocations:ack:${body.m}`, JSON.stringify({ a: [body.q], by: id }));
      }
    });
    await subscriber.subscribe(`${prefix}revocations`);
    let n = 0;
    const beat = () => redis!.client.publish(`${prefix}revocations`, JSON.stringify({ hb: id, n: ++n }));
    await beat();
    const timer = setInterval(() => void beat(), 50);
    return {
      stop: () => clearInterval(timer),
      bye: () => redis!.client.publish(`${prefix}revocations`, JSON.stringify({ bye: id })),
      close: () => (clearInterval(timer), subscriber.disconnect()),
    };
  }
  /** A feed that has listened for a lease already, so it knows every live instance. */
  async function settled() {
    const f = await started();
    await new Promise((r) => setTimeout(r, leaseMs + 100));
    return f;
  }

  test('publish resolves only once every other instance has the revocations in its list', async () => {
    const [a, b] = [await settled(), await started()];
    const sent = [revocation(), revocation()];
    await a.feed.publish(sent);
    // No waiting here: b acknowledged after its handler had taken them.
    assert.deepEqual(b.probe.revocations, sent);
    await a.probe.until(() => a.probe.revocations.length === 2, 'its own copy');
    assert.equal(a.probe.health[0], true);
    await Promise.all([a.feed.close(), b.feed.close()]);
    assert.equal(a.feed.healthy, false);
    assert.equal(a.feed.leaseUntil, 0);
    await assert.rejects(a.feed.publish(sent));
  });

  test('an instance that heartbeats but does not acknowledge is waited for until its lease must have run out, not longer', async () => {
    const a = await settled();
    const silent = await ghost({ acks: false });
    await new Promise((r) => setTimeout(r, 200)); // a has heard it
    silent.stop(); // hung: no more heartbeats, no acknowledgement
    const stoppedAt = performance.now();
    await a.feed.publish([revocation()]);
    const tookUntil = performance.now() - stoppedAt;
    assert.ok(tookUntil >= leaseMs - 100, `answered ${Math.round(tookUntil)} ms after the last heartbeat: the silent instance might still trust its list`);
    assert.ok(tookUntil < leaseMs + 2_000, `waited ${Math.round(tookUntil)} ms: more than its lease`);
    // Once it is past its lease, it is no longer waited for.
    const t1 = performance.now();
    await a.feed.publish([revocation()]);
    assert.ok(performance.now() - t1 < leaseMs / 2, 'a lapsed instance is not waited for again');
    silent.close();
    await a.feed.close();
  });

  test('an instance that acknowledges is not waited for past its acknowledgement; one that said bye not at all', async () => {
    const a = await settled();
    const prompt = await ghost({ acks: true });
    await new Promise((r) => setTimeout(r, 200));
    const t1 = performance.now();
    await a.feed.publish([revocation()]);
    assert.ok(performance.now() - t1 < leaseMs / 2, `waited ${Math.round(performance.now() - t1)} ms for a prompt acknowledgement`);
    prompt.stop();
    await prompt.bye();
    // A marker after the bye on the same channel: once a has it, it has processed the bye.
    const marker = revocation();
    await redis!.client.publish(`${prefix}revocations`, JSON.stringify({ r: [[marker.kind, marker.id, marker.userId, marker.revokedAt, marker.expiresAt]] }));
    await a.probe.until(() => a.probe.revocations.some((r) => r.id === marker.id), 'the bye and the marker');
    const leaving = performance.now();
    await a.feed.publish([revocation()]);
    assert.ok(performance.now() - leaving < leaseMs / 2, 'an instance that said bye is not waited for');
    prompt.close();
    await a.feed.close();
  });

  test('a feed that has listened for less than a lease waits out the instances it cannot have heard', async () => {
    const a = await started();
    const t1 = performance.now();
    await a.feed.publish([revocation()]);
    assert.ok(performance.now() - t1 >= leaseMs / 2, 'an instance heard only before this feed listened might still trust its list');
    await a.feed.close();
  });

  test('the lease ends as soon as the subscriber is killed, comes back with it, and lapses when heartbeats cannot go out', async () => {
    const { conn, feed, probe, connectionName } = await started();
    const clients = [...String(await redis!.client.client('LIST')).matchAll(/id=(\d+) .*name=(\S+)/g)];
    const ids = clients.filter((m) => m[2] === connectionName).map((m) => m[1]!);
    assert.equal(ids.length, 1);
    await redis!.client.client('KILL', 'ID', ids[0]!);
    await probe.until(() => probe.health.includes(false), 'the loss');
    assert.equal(feed.leaseUntil, 0, 'no lease without a subscription');
    await probe.until(() => feed.healthy, 'recovery');
    assert.ok(feed.leaseUntil > performance.now());
    // Only the publishing connection goes: heartbeats stop while the subscriber stays connected.
    conn.client.disconnect();
    const cut = performance.now();
    await probe.until(() => !feed.healthy, 'the lease running out', 10_000);
    assert.ok(feed.leaseUntil <= cut + leaseMs, 'the lease was not renewed after the heartbeats stopped');
    assert.ok(feed.leaseUntil < performance.now());
    await feed.close();
  });

  test('garbage on the channel is ignored', async () => {
    const { feed, probe } = await started();
    const garbage = ['not json', 'null', '"text"', '[1]', '{}', '{"r":"x"}', '{"r":[["session",1]]}', '{"r":[["other","i","u",1,2]]}', '{"r":[null,["session","i","u","1",2]]}', '{"hb":"self?","n":"x"}', '{"a":[1],"by":7}'];
    for (const message of garbage) await redis!.client.publish(`${prefix}revocations`, message);
    const sent = revocation();
    await feed.publish([sent]);
    await probe.until(() => probe.revocations.length > 0, 'the valid revocation');
    assert.deepEqual(probe.revocations, [sent]);
    assert.equal(feed.healthy, true);
    await feed.close();
  });
});

describe('connectRedis', () => {
  test('other URLs are a ConfigError, an unreachable Redis fails at connect; neither message shows the password', async () => {
    for (const url of ['http://h:1', 'redis://', 'redis://a:1,b:2', 'redis://h:1/x', 'redis+sentinel://h:1', 'redis+cluster://h:1/0', 'redis://:s3cret@h:99999', 'redis://:s3/cret@h:1/x?tls=1']) {
      await assert.rejects(connectRedis(url), (err: Error) => err instanceof ConfigError && !err.message.includes('cret'), url);
    }
    await assert.rejects(connectRedis('redis://:s3cret@127.0.0.1:1'), (err: Error) => /cannot reach Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1 \(redisUrl, TOKENSTILE_REDIS_URL\):/.test(err.message) && !err.message.includes('s3cret'));
  });
});

describe('openRedisBackends', { skip }, () => {
  test('once Redis is closed, every backend method raises StoreUnavailableError, keeping the cause', async () => {
    const backends = await openRedisBackends(redisUrl, { keyPrefix: prefix });
    const scope: CacheScope = { kind: 'user', userId: uid() } as CacheScope;
    await backends.rateLimiter.hit(uid(), 3, minute, t0);
    await backends.close();
    const calls: Record<string, () => Promise<unknown>> = {
      'rateLimiter.hit': () => backends.rateLimiter.hit(uid(), 3, minute, t0),
      'rateLimiter.peek': () => backends.rateLimiter.peek(uid(), 3, minute, t0),
      'rateLimiter.reset': () => backends.rateLimiter.reset(uid()),
      'sessionCache.version': () => backends.sessionCache.version(scope),
      'sessionCache.get': () => backends.sessionCache.get(scope, 'k'),
      'sessionCache.set': () => backends.sessionCache.set(scope, '1', 'k', 'v', minute),
      'sessionCache.dropUser': () => backends.sessionCache.dropUser(uid()),
      'sessionCache.dropSession': () => backends.sessionCache.dropSession(uid(), uid()),
      'feed.publish': () => backends.feed.publish([{ kind: 'session', id: uid(), userId: uid(), revokedAt: t0, expiresAt: Date.now() + minute }]),
    };
    for (const [operation, call] of Object.entries(calls)) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof StoreUnavailableError, `${operation}: ${String(err)}`);
        assert.equal(err.message, `The store failed during ${operation}; retry later.`);
        assert.ok(err.cause instanceof Error);
        return true;
      });
    }
  });
});
