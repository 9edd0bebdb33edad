import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionCache } from '../../src/core/session-cache.ts';
import { MemorySessionCache } from '../../src/core/memory-session-cache.ts';
import { bearer, testApp } from '../helpers.ts';

test('GET /auth/me is served from the cache, and PATCH /auth/me drops every cached copy', async () => {
  const t = await testApp();
  try {
    const s = await t.signUp();
    const me = () => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) });
    assert.equal((await me()).json().name, null);
    // Change the row behind the cache's back: a cached read does not see it...
    await t.app.tokenstile.stores.users.update(s.user.id, { name: 'Behind' }, t.clock.now());
    assert.equal((await me()).json().name, null, 'served from the cache');
    // ...and an update through the API drops the cache, so the next read is fresh.
    const patch = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(s.accessToken), payload: { name: 'Ada' } });
    assert.equal(patch.json().name, 'Ada');
    assert.equal((await me()).json().name, 'Ada');
    // A cached copy lives at most a minute.
    await t.app.tokenstile.stores.users.update(s.user.id, { name: 'Later' }, t.clock.now());
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

test('if dropping fails, this instance stops trusting the cache until its entries have expired', async () => {
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
