import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CacheGuard } from '../../src/core/cache-guard.ts';
import type { SessionCache } from '../../src/core/session-cache.ts';
import { MemorySessionCache } from '../../src/core/memory-session-cache.ts';
import { bearer, testApp } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

test('GET /auth/me is served from the cache, and PATCH /auth/me drops every cached copy', async () => {
  const t = await testApp();
  try {
    const s = await t.signUp();
    const me = () => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) });
    assert.equal((await me()).json().name, null);
    // Change the row behind the cache's back: a cached read does not see it...
    await internals(t.app.tokenstile).stores.users.update(s.user.id, { name: 'Behind' }, t.clock.now());
    assert.equal((await me()).json().name, null, 'served from the cache');
    // ...and an update through the API drops the cache, so the next read is fresh.
    const patch = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(s.accessToken), payload: { name: 'Ada' } });
    assert.equal(patch.json().name, 'Ada');
    assert.equal((await me()).json().name, 'Ada');
    // A cached copy lives at most a minute.
    await internals(t.app.tokenstile).stores.users.update(s.user.id, { name: 'Later' }, t.clock.now());
    t.clock.advance(60_001);
    assert.equal((await me()).json().name, 'Later');
  } finally {
    await t.close();
  }
});

test('a cache write that raced a drop is never read back', async () => {
  const cache = new MemorySessionCache();
  const scope = { userId: 'u1' };
  const version = await cache.version(scope); // a reader takes the version, then reads the store...
  await cache.dropUser('u1'); // ...while an update drops the cache...
  await cache.set(scope, version, 'profile', '"stale"', 60_000); // ...and then it writes what it read
  assert.equal(await cache.get(scope, 'profile'), null);
});

test('if dropping fails, this instance stops trusting the cache until the drop is redone', async () => {
  const inner = new MemorySessionCache();
  let failDrops = false;
  const flaky: SessionCache = Object.assign(Object.create(null), {
    kind: 'flaky',
    version: (s: Parameters<SessionCache['version']>[0]) => inner.version(s),
    get: (s: Parameters<SessionCache['get']>[0], k: string) => inner.get(s, k),
    set: (...a: Parameters<SessionCache['set']>) => inner.set(...a),
    dropUser: (u: string) => (failDrops ? Promise.reject(new Error('redis down')) : inner.dropUser(u)),
    dropSession: (u: string, sid: string) => (failDrops ? Promise.reject(new Error('redis down')) : inner.dropSession(u, sid)),
    close: () => inner.close(),
  });
  const t = await testApp({ sessionCache: flaky });
  try {
    const s = await t.signUp();
    const me = () => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) });
    await me(); // cached
    failDrops = true;
    const patch = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(s.accessToken), payload: { name: 'New' } });
    assert.equal(patch.statusCode, 200);
    assert.equal((await me()).json().name, 'New', 'the stale cached copy is not served');
  } finally {
    await t.close();
  }
});

test('the in-process cache forgets versions once nothing written under them can be alive', async () => {
  let now = 0;
  const cache = new MemorySessionCache({ maxTtlMs: 60_000, now: () => now });
  for (let i = 0; i < 1000; i++) await cache.dropSession('u', `s${i}`);
  assert.equal(cache.trackedScopes, 1000);
  // A value written before a drop, under the old version, stays unreadable after the sweep too.
  const scope = { userId: 'u', sessionId: 's-late' };
  const old = await cache.version(scope);
  await cache.set(scope, old, 'k', '"old"', 10 * 60_000); // capped to a minute
  await cache.dropSession('u', 's-late');
  now += 60_001 + 10_000;
  await cache.dropSession('u', 'trigger');
  assert.equal(cache.trackedScopes, 1, 'only the fresh drop is remembered');
  assert.equal(await cache.get(scope, 'k'), null, 'the old value expired with its capped TTL');
});

describe('CacheGuard: a failed or hung cache drop', () => {
  /** A cache whose drops fail (`fail`), never answer (`hang`), or work. */
  function breakableCache() {
    const inner = new MemorySessionCache();
    const state = { fail: false, hang: false, drops: 0 };
    const drop = (run: () => Promise<void>) => {
      state.drops += 1;
      if (state.hang) return new Promise<void>(() => {});
      return state.fail ? Promise.reject(new Error('redis down')) : run();
    };
    const cache: SessionCache = {
      kind: 'breakable',
      version: (s) => inner.version(s),
      get: (s, k) => inner.get(s, k),
      set: (...a) => inner.set(...a),
      dropUser: (u) => drop(() => inner.dropUser(u)),
      dropSession: (u, sid) => drop(() => inner.dropSession(u, sid)),
      close: () => inner.close(),
    };
    return { cache, state };
  }

  test('bypasses the cache until the drop has been redone, then uses it again', async () => {
    let now = 0;
    const { cache, state } = breakableCache();
    const guard = new CacheGuard(cache, { now: () => now });
    const scope = { userId: 'u' };
    await cache.set(scope, await cache.version(scope), 'k', '"stale"', 60_000);
    state.fail = true;
    await guard.drop('u'); // never throws
    assert.equal(guard.bypassing, true);
    assert.equal(await guard.current.get(scope, 'k'), null, 'the entry the drop was meant to end is not read');
    await guard.redo(); // still failing: still bypassed
    assert.equal(guard.bypassing, true);
    state.fail = false;
    await guard.redo();
    assert.equal(guard.bypassing, false, 'the redone drop ends the bypass at once, not after ten minutes');
    assert.equal(await guard.current.get(scope, 'k'), null, 'and the entry is dropped for good');
  });

  test('a drop that does not answer costs the caller at most its timeout, and counts as failed', async () => {
    const { cache, state } = breakableCache();
    const guard = new CacheGuard(cache, { now: () => 0, dropTimeoutMs: 50 });
    state.hang = true;
    const t0 = performance.now();
    await guard.drop('u', 's');
    assert.ok(performance.now() - t0 < 5_000, 'bounded by the timeout, not by the cache');
    assert.equal(guard.bypassing, true);
  });

  test('with the cache down for good, the bypass ends once every entry it could hide has expired', async () => {
    let now = 0;
    const { cache, state } = breakableCache();
    const guard = new CacheGuard(cache, { now: () => now });
    state.fail = true;
    await guard.drop('u');
    now += 10 * 60_000 - 1;
    assert.equal(guard.bypassing, true);
    now += 2;
    assert.equal(guard.bypassing, false);
  });
});
