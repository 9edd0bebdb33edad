import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { SessionCache } from '../../src/core/session-cache.ts';
import { bearer, fastifyOnly, goodPassword, testApp, type TestApp, type TokenBody } from '../helpers.ts';

/*
 * `request.auth.cache` on an app's own routes, over the selected backend (the Redis cache in the
 * Postgres + Redis run) and mode. The "source" is the app's own data; `loads` counts its reads.
 */

interface Source {
  carts: Map<string, string[]>;
  roles: Map<string, string>;
  loads: number;
  /** When set, the next cart load waits for it (to race a drop against a slow read). */
  gate: Promise<void> | null;
}

function routes(source: Source) {
  // Registered as a plugin, so that it loads after Tokenstile's and sees `app.authenticate`.
  return (root: FastifyInstance) => void root.register(async (app) => {
    app.get('/cart', { onRequest: app.authenticate }, async (request) => {
      const auth = request.auth!;
      const cart = await auth.cache.load('cart', async () => {
        source.loads += 1;
        const snapshot = source.carts.get(auth.sessionId) ?? [];
        if (source.gate) await source.gate;
        return snapshot;
      });
      return { cart };
    });
    app.get('/role', { onRequest: app.authenticate }, async (request) => {
      const auth = request.auth!;
      const role = await auth.cache.load('role', async () => {
        source.loads += 1;
        return source.roles.get(auth.userId) ?? 'reader';
      }, { scope: 'user' });
      return { role };
    });
  });
}

async function withRoutes(fn: (t: TestApp, source: Source) => Promise<void>, options = {}): Promise<void> {
  const source: Source = { carts: new Map(), roles: new Map(), loads: 0, gate: null };
  const t = await testApp(options, routes(source));
  try {
    await fn(t, source);
  } finally {
    await t.close();
  }
}

const get = async (t: TestApp, url: string, token: string) => {
  const res = await t.app.inject({ method: 'GET', url, headers: bearer(token) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
};
const login = async (t: TestApp, email: string): Promise<TokenBody> =>
  (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).json();
const refresh = async (t: TestApp, refreshToken: string): Promise<TokenBody> =>
  (await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })).json();

describe('request.auth.cache on the app\'s own routes', { skip: fastifyOnly }, () => {
  test('a loaded value is served from the cache; session entries are per session, user entries shared', () =>
    withRoutes(async (t, source) => {
      const a = await t.signUp();
      const b = await login(t, a.user.email);
      source.carts.set(a.session.id, ['tea']);
      assert.deepEqual(await get(t, '/cart', a.accessToken), { cart: ['tea'] });
      source.carts.set(a.session.id, ['changed behind the cache']);
      assert.deepEqual(await get(t, '/cart', a.accessToken), { cart: ['tea'] }, 'served from the cache');
      assert.equal(source.loads, 1);
      assert.deepEqual(await get(t, '/cart', b.accessToken), { cart: [] }, 'another session has its own entry');
      assert.equal(source.loads, 2);
      assert.deepEqual(await get(t, '/role', a.accessToken), { role: 'reader' });
      assert.deepEqual(await get(t, '/role', b.accessToken), { role: 'reader' });
      assert.equal(source.loads, 3, 'a user entry is shared by the user\'s sessions');
    }));

  test('a refresh drops the session\'s entries', () =>
    withRoutes(async (t, source) => {
      const a = await t.signUp();
      source.carts.set(a.session.id, ['tea']);
      await get(t, '/cart', a.accessToken);
      source.carts.set(a.session.id, ['tea', 'milk']);
      const next = await refresh(t, a.refreshToken);
      assert.deepEqual(await get(t, '/cart', next.accessToken), { cart: ['tea', 'milk'] });
    }));

  test('PATCH /auth/me and a password change drop the user\'s entries for every session', () =>
    withRoutes(async (t, source) => {
      const a = await t.signUp();
      const b = await login(t, a.user.email);
      await get(t, '/role', b.accessToken);
      source.roles.set(a.user.id, 'editor');
      const patch = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(a.accessToken), payload: { name: 'Ada' } });
      assert.equal(patch.statusCode, 200);
      assert.deepEqual(await get(t, '/role', b.accessToken), { role: 'editor' }, 'dropped by the profile update');
      source.roles.set(a.user.id, 'admin');
      const change = await t.app.inject({
        method: 'POST', url: '/auth/password', headers: bearer(a.accessToken),
        payload: { currentPassword: goodPassword, newPassword: 'a new passphrase 7' },
      });
      assert.equal(change.statusCode, 204);
      assert.deepEqual(await get(t, '/role', a.accessToken), { role: 'admin' }, 'dropped by the password change');
    }));

  test('logging out everywhere drops the user\'s entries; logging out the others keeps this session\'s', () =>
    withRoutes(async (t, source) => {
      const a = await t.signUp();
      await login(t, a.user.email);
      source.carts.set(a.session.id, ['tea']);
      await get(t, '/cart', a.accessToken);
      await get(t, '/role', a.accessToken);
      const others = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.accessToken), payload: { scope: 'others' } });
      assert.equal(others.statusCode, 204);
      source.carts.set(a.session.id, ['changed']);
      assert.deepEqual(await get(t, '/cart', a.accessToken), { cart: ['tea'] }, 'this session\'s entry survives');
      source.roles.set(a.user.id, 'editor');
      const global = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.accessToken), payload: { scope: 'global' } });
      assert.equal(global.statusCode, 204);
      const c = await login(t, a.user.email);
      assert.deepEqual(await get(t, '/role', c.accessToken), { role: 'editor' }, 'the user entry went with the global logout');
    }));

  test('a slow read that raced a refresh never writes back what it read', () =>
    withRoutes(async (t, source) => {
      const a = await t.signUp();
      source.carts.set(a.session.id, ['old']);
      let release!: () => void;
      source.gate = new Promise<void>((resolve) => (release = resolve));
      // The read takes its snapshot of the source, then stalls...
      const slow = t.app.inject({ method: 'GET', url: '/cart', headers: bearer(a.accessToken) });
      while (source.loads === 0) await new Promise((r) => setImmediate(r));
      // ...while the source changes and a refresh drops the session's entries...
      source.carts.set(a.session.id, ['new']);
      const next = await refresh(t, a.refreshToken);
      source.gate = null;
      release();
      // ...so what it writes after the drop is never served.
      assert.deepEqual((await slow).json(), { cart: ['old'] });
      assert.deepEqual(await get(t, '/cart', next.accessToken), { cart: ['new'] });
    }));

  test('a cache that fails is a miss every time: the source answers and nothing stale is served', () => {
    const failing = new Error('cache down');
    const broken: SessionCache = {
      kind: 'broken',
      version: () => Promise.reject(failing),
      get: () => Promise.reject(failing),
      set: () => Promise.reject(failing),
      dropUser: () => Promise.reject(failing),
      dropSession: () => Promise.reject(failing),
      close: async () => {},
    };
    return withRoutes(async (t, source) => {
      const a = await t.signUp();
      source.carts.set(a.session.id, ['tea']);
      assert.deepEqual(await get(t, '/cart', a.accessToken), { cart: ['tea'] });
      source.carts.set(a.session.id, ['milk']);
      assert.deepEqual(await get(t, '/cart', a.accessToken), { cart: ['milk'] });
      assert.equal(source.loads, 2);
      assert.equal((await get(t, '/auth/me', a.accessToken)).id, a.user.id);
    }, { sessionCache: broken });
  });
});
