import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthCache, type CacheHost } from '../../src/core/auth-cache.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { MemorySessionCache } from '../../src/core/memory-session-cache.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { fastHasher, goodPassword, issuer, uniqueEmail } from '../helpers.ts';

function host(clock = new ManualClock(Date.UTC(2026, 0, 1))) {
  const cache = new MemorySessionCache({ now: () => clock.now() });
  const h: CacheHost = {
    cache,
    logger: undefined,
    dropCache: (userId, sessionId) => (sessionId === undefined ? cache.dropUser(userId) : cache.dropSession(userId, sessionId)),
  };
  return { clock, cache, host: h };
}

describe('AuthCache', () => {
  test('values round-trip as JSON; a miss is undefined; entries expire after their ttl', async () => {
    const { clock, host: h } = host();
    const c = new AuthCache(h, 'u1', 's1');
    assert.equal(await c.get('cart'), undefined);
    await c.set('cart', { items: ['tea'], total: 3.5 });
    assert.deepEqual(await new AuthCache(h, 'u1', 's1').get('cart'), { items: ['tea'], total: 3.5 });
    await c.set('flag', false, { ttl: '5s' });
    assert.equal(await new AuthCache(h, 'u1', 's1').get('flag'), false, 'a falsy value is a hit');
    clock.advance(5_001);
    assert.equal(await new AuthCache(h, 'u1', 's1').get('flag'), undefined);
    assert.deepEqual(await new AuthCache(h, 'u1', 's1').get('cart'), { items: ['tea'], total: 3.5 }, 'default ttl is 60s');
    clock.advance(55_000);
    assert.equal(await new AuthCache(h, 'u1', 's1').get('cart'), undefined);
  });

  test('session entries belong to one session; user entries to every session of the user', async () => {
    const { host: h } = host();
    await new AuthCache(h, 'u1', 's1').set('k', 'session one');
    await new AuthCache(h, 'u1', 's1').set('k', 'user one', { scope: 'user' });
    assert.equal(await new AuthCache(h, 'u1', 's2').get('k'), undefined);
    assert.equal(await new AuthCache(h, 'u1', 's2').get('k', { scope: 'user' }), 'user one');
    assert.equal(await new AuthCache(h, 'u2', 's1').get('k', { scope: 'user' }), undefined);
  });

  test('a write after a drop that this request did not see first lands unreadable', async () => {
    const { host: h } = host();
    const slow = new AuthCache(h, 'u1', 's1');
    assert.equal(await slow.get('cart'), undefined); // first look: the version is taken here
    await new AuthCache(h, 'u1', 's1').drop(); // a logout or refresh elsewhere
    await slow.set('cart', ['stale']);
    assert.equal(await new AuthCache(h, 'u1', 's1').get('cart'), undefined);
  });

  test('keys, values, scopes and ttls are checked', async () => {
    const { host: h } = host();
    const c = new AuthCache(h, 'u1', 's1');
    await assert.rejects(c.get(''), TypeError);
    await assert.rejects(c.get('x'.repeat(201)), TypeError);
    await assert.rejects(c.set('k', undefined), /must not be undefined/);
    await assert.rejects(c.set('k', 1, { ttl: '11m' }), /ttl must be more than 0s and at most 600s/);
    await assert.rejects(c.set('k', 1, { ttl: 0 }), RangeError);
    await assert.rejects(c.get('k', { scope: 'device' as never }), /scope must be 'session' or 'user'/);
  });

  test('app keys cannot reach Tokenstile\'s own entries', async () => {
    const { cache, host: h } = host();
    const scope = { userId: 'u1' };
    await cache.set(scope, await cache.version(scope), 'profile', '{"name":"Ada"}', 60_000);
    assert.equal(await new AuthCache(h, 'u1', 's1').get('profile', { scope: 'user' }), undefined);
  });
});

describe('the core drops request caches on auth events', () => {
  test('refresh and logout drop the session\'s entries; a global logout drops the user\'s', async () => {
    const clock = new ManualClock(Date.now());
    const stores = await openSqliteStores(':memory:');
    const cache = new MemorySessionCache({ now: () => clock.now() });
    const core = await createTokenstile({ stores, issuer, clock, passwordHasher: fastHasher, rateLimits: false, audit: false, sessionCache: cache });
    try {
      const email = uniqueEmail();
      assert.ok((await core.register({ email, password: goodPassword }, {})).ok);
      const signIn = async () => {
        const r = await core.login({ email, password: goodPassword });
        assert.ok(r.ok);
        return r.value;
      };
      const authOf = async (token: string) => {
        const r = await core.authenticate(token);
        assert.ok(r.ok);
        return r.value;
      };
      const a = await signIn();
      let auth = await authOf(a.accessToken);
      await auth.cache.set('cart', ['tea']);
      await auth.cache.set('role', 'editor', { scope: 'user' });
      const refreshed = await core.refresh(a.refreshToken);
      assert.ok(refreshed.ok);
      auth = await authOf(refreshed.value.accessToken);
      assert.equal(await auth.cache.get('cart'), undefined, 'refresh dropped the session entry');
      assert.equal(await auth.cache.get('role', { scope: 'user' }), 'editor', 'but not the user entry');

      await auth.cache.set('cart', ['milk']);
      const b = await signIn();
      const other = await authOf(b.accessToken);
      await other.cache.set('cart', ['bread']);
      const otherScope = { userId: other.userId, sessionId: other.sessionId };
      assert.equal(await cache.get(otherScope, 'app:cart'), '["bread"]');
      await core.logout(other, 'local');
      assert.equal(await cache.get(otherScope, 'app:cart'), null, 'the logout dropped the session entry');
      assert.deepEqual(await auth.cache.get('cart'), ['milk'], 'another session\'s logout leaves this one\'s entries');

      await core.logout(auth, 'global');
      const c = await authOf((await signIn()).accessToken);
      assert.equal(await c.cache.get('role', { scope: 'user' }), undefined, 'a global logout dropped the user entry');
    } finally {
      await core.close();
      await stores.close();
    }
  });
});
