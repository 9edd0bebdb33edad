// What an instance does when its revocation feed is unhealthy: it must never accept a revoked
// token, so it asks the store per request (or answers 503 when the store cannot answer either),
// and trusts its list again only after catching up. The feed here is an in-process one whose
// health the test controls; the Redis feed's own tests kill real connections.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Revocation } from '../../src/core/revocation.ts';
import type { RevocationFeed } from '../../src/core/revocation-feed.ts';
import type { Stores } from '../../src/core/stores.ts';
import { createTokenstile, type Tokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { fastHasher, goodPassword, issuer, tempDir } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

/** Feeds connected through one in-process hub; `up = false` drops messages and reports unhealthy. */
class Hub {
  up = true;
  /** While set, publishing waits for it (a slow feed) before delivering. */
  hold: Promise<void> | undefined;
  readonly feeds = new Set<HubFeed>();
  setUp(up: boolean): void {
    this.up = up;
    for (const f of this.feeds) f.handlers?.onHealth(up);
  }
}
class HubFeed implements RevocationFeed {
  readonly kind = 'hub';
  handlers: { onRevocations(r: Revocation[]): void; onHealth(h: boolean): void } | undefined;
  readonly #hub: Hub;
  constructor(hub: Hub) {
    this.#hub = hub;
    hub.feeds.add(this);
  }
  get healthy(): boolean {
    return this.#hub.up;
  }
  get leaseUntil(): number {
    return this.#hub.up ? Number.POSITIVE_INFINITY : 0;
  }
  async publish(revocations: readonly Revocation[]): Promise<void> {
    if (!this.#hub.up) throw new Error('feed down');
    await this.#hub.hold;
    for (const f of this.#hub.feeds) f.handlers?.onRevocations([...revocations]);
  }
  async start(handlers: HubFeed['handlers'] & object): Promise<void> {
    this.handlers = handlers;
  }
  async close(): Promise<void> {
    this.#hub.feeds.delete(this);
  }
}

/**
 * A store whose sessions.get fails while `down`, and whose revocations.revocationsSince, while `gate` is set,
 * reads the store and then waits for the gate before answering (a slow poll that read early).
 */
function breakable(stores: Stores, state: StoreState): Stores {
  const sessions = new Proxy(stores.sessions, {
    get: (target, prop) => {
      if (prop === 'get') return (id: string) => (state.down ? Promise.reject(new Error('connection refused')) : target.get(id));
      return Reflect.get(target, prop, target).bind(target);
    },
  });
  const revocations = new Proxy(stores.revocations, {
    get: (target, prop) => {
      if (prop === 'revocationsSince') {
        return async (cursor: string | null, now: number) => {
          if (state.pollFails) throw new Error('poll failed');
          const result = await target.revocationsSince(cursor, now);
          if (state.gate) await state.gate;
          return result;
        };
      }
      return Reflect.get(target, prop, target).bind(target);
    },
  });
  const replaced: Record<string, unknown> = { sessions, revocations };
  return new Proxy(stores, { get: (target, prop) => (typeof prop === 'string' && Object.hasOwn(replaced, prop) ? replaced[prop] : Reflect.get(target, prop, target)) });
}

interface StoreState {
  down: boolean;
  pollFails?: boolean;
  gate?: Promise<void> | undefined;
}

const settle = async (until: () => boolean) => {
  for (let i = 0; i < 100 && !until(); i++) await new Promise((r) => setImmediate(r));
};

async function twoInstances(fn: (a: Tokenstile, b: Tokenstile, hub: Hub, storeState: StoreState) => Promise<void>) {
  const dir = tempDir();
  const hub = new Hub();
  const storeState: StoreState = { down: false };
  const sa = openSqliteStores(`${dir.path}/t.db`);
  const sb = openSqliteStores(`${dir.path}/t.db`);
  // A long poll interval: only the feed (or an explicit catch-up) can carry revocations.
  const options = { issuer, passwordHasher: fastHasher, revocationPollInterval: '1h', rateLimits: false } as const;
  const a = await createTokenstile({ ...options, stores: breakable(sa, storeState), feed: new HubFeed(hub) });
  // b only revokes: a short store lease bounds how long its revocations wait while the hub is
  // down (a revocation the feed cannot confirm waits out one store lease; see RevocationSync).
  const b = await createTokenstile({ ...options, revocationPollInterval: '50ms', revocationLease: '200ms', stores: sb, feed: new HubFeed(hub) });
  try {
    await fn(a, b, hub, storeState);
  } finally {
    await a.close();
    await b.close();
    await sa.close();
    await sb.close();
    dir.cleanup();
  }
}

async function signIn(core: Tokenstile, email: string) {
  await core.register({ email, password: goodPassword });
  const r = await core.login({ email, password: goodPassword });
  assert.ok(r.ok);
  return r.value;
}

test('with a healthy feed, a revocation on one instance reaches the other at once, and checks stay synchronous', () =>
  twoInstances(async (a, b) => {
    const s = await signIn(a, 'x@example.com');
    const before = a.authenticate(s.accessToken);
    assert.equal(before instanceof Promise, false, 'no I/O on the hot path');
    assert.ok(!(before instanceof Promise) && before.ok);
    await b.revoke({ sessionId: s.session.id });
    assert.deepEqual(a.authenticate(s.accessToken), { ok: false, code: 'session_revoked' });
  }));

test('with the feed down, a revocation it could not carry is still enforced: the store is asked', () =>
  twoInstances(async (a, b, hub) => {
    const revoked = await signIn(a, 'r@example.com');
    const live = await signIn(a, 'l@example.com');
    hub.setUp(false);
    assert.equal(a.degraded, true);
    await b.revoke({ sessionId: revoked.session.id }); // the publish fails; the store has it
    const answer = a.authenticate(revoked.accessToken);
    assert.ok(answer instanceof Promise, 'degraded checks go to the store');
    assert.deepEqual(await answer, { ok: false, code: 'session_revoked' });
    const ok = await a.authenticate(live.accessToken);
    assert.ok(ok.ok);
  }));

test('with the feed and the store both down, the answer is 503-worthy, never an acceptance', () =>
  twoInstances(async (a, _b, hub, store) => {
    const s = await signIn(a, 'd@example.com');
    hub.setUp(false);
    store.down = true;
    const r = await a.authenticate(s.accessToken);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.code === 'service_unavailable' && r.retryAfterMs !== undefined);
    store.down = false;
    assert.ok((await a.authenticate(s.accessToken)).ok);
  }));

test('when the feed recovers, the list is caught up from the store before it is trusted again', () =>
  twoInstances(async (a, b, hub) => {
    const s = await signIn(a, 'c@example.com');
    hub.setUp(false);
    await b.revoke({ sessionId: s.session.id }); // missed by a's list
    hub.setUp(true);
    await settle(() => !a.degraded);
    assert.equal(a.degraded, false);
    const answer = a.authenticate(s.accessToken);
    assert.equal(answer instanceof Promise, false, 'back on the in-memory list');
    assert.deepEqual(answer, { ok: false, code: 'session_revoked' }, 'the missed revocation was caught up');
  }));

test('a poll that read the store before a missed revocation does not count as the catch-up', () =>
  twoInstances(async (a, b, hub, store) => {
    const s = await signIn(a, 'early@example.com');
    hub.setUp(false);
    let release = () => {};
    store.gate = new Promise<void>((r) => (release = r));
    const early = internals(a).syncRevocations(); // reads now, answers when the gate opens
    await new Promise((r) => setImmediate(r));
    await b.revoke({ sessionId: s.session.id }); // written after that read; the feed misses it
    hub.setUp(true); // the catch-up must not reuse the early poll
    store.gate = undefined;
    release();
    await early;
    await settle(() => !a.degraded);
    assert.equal(a.degraded, false);
    assert.deepEqual(await a.authenticate(s.accessToken), { ok: false, code: 'session_revoked' });
  }));

test('a flap during the catch-up keeps the instance degraded', () =>
  twoInstances(async (a, _b, hub, store) => {
    hub.setUp(false);
    let release = () => {};
    store.gate = new Promise<void>((r) => (release = r));
    hub.setUp(true); // catch-up starts and waits at the gate
    await new Promise((r) => setImmediate(r));
    hub.setUp(false); // the feed drops again before the catch-up finishes
    store.gate = undefined;
    release();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(a.degraded, true);
  }));

test('a catch-up that failed is finished by the next poll round', () =>
  twoInstances(async (a, b, hub, store) => {
    const s = await signIn(a, 'retry@example.com');
    hub.setUp(false);
    await b.revoke({ sessionId: s.session.id });
    store.pollFails = true;
    hub.setUp(true);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(a.degraded, true, 'not trusted while it could not catch up');
    store.pollFails = false;
    internals(a).tick();
    await settle(() => !a.degraded);
    assert.equal(a.degraded, false);
    assert.deepEqual(await a.authenticate(s.accessToken), { ok: false, code: 'session_revoked' });
  }));

test('with the feed and the store both down, introspection and revocation say unavailable instead of a wrong answer', () =>
  twoInstances(async (a, _b, hub, store) => {
    const s = await signIn(a, 'oauth@example.com');
    hub.setUp(false);
    store.down = true;
    assert.equal(await a.introspect(s.accessToken), 'unavailable', 'not active:false for a live token');
    assert.equal(await a.revokeToken(s.accessToken), 'unavailable', 'not a 200 that revoked nothing');
    store.down = false;
    hub.setUp(true); // a's own revocation is then confirmed by the feed, not by waiting out a's hour-long store lease
    assert.equal(await a.revokeToken(s.accessToken), s.session.id);
    assert.deepEqual(await a.introspect(s.accessToken), { active: false });
  }));

test('the revocation stream source hears every revocation once, whichever instance made it', () =>
  twoInstances(async (a, b) => {
    const seen: string[] = [];
    const stop = internals(a).onRevocations((rs) => {
      seen.push(...rs.map((r) => r.id));
    });
    const x = await signIn(b, 'x1@example.com');
    const y = await signIn(a, 'y1@example.com');
    await b.revoke({ sessionId: x.session.id });
    await a.revoke({ sessionId: y.session.id });
    await b.revoke({ sessionId: x.session.id }); // already ended: nothing new
    stop();
    assert.deepEqual(seen, [x.session.id, y.session.id]);
    assert.deepEqual(new Set(internals(a).liveRevocations().map((r) => r.id)), new Set([x.session.id, y.session.id]));
  }));

test('a revocation that finds the session already ended does not answer before the one that ended it could have', () =>
  twoInstances(async (a, b, hub) => {
    const s = await signIn(a, 'twice@example.com');
    let release = () => {};
    hub.hold = new Promise<void>((r) => (release = r));
    const first = a.revoke({ sessionId: s.session.id }); // committed; its confirmation is held
    await new Promise((r) => setTimeout(r, 50));
    // b was asked too (a retried logout): its list has not heard, the store says already ended.
    const t0 = performance.now();
    assert.deepEqual(await b.revoke({ sessionId: s.session.id }), []);
    assert.ok(performance.now() - t0 >= 200, 'answered before one store lease: another instance could still accept the token');
    // Nothing recently ended: no wait.
    const t1 = performance.now();
    assert.deepEqual(await b.revoke({ sessionId: '0190a3a0-0000-7000-8000-000000000000' }), []);
    assert.ok(performance.now() - t1 < 200);
    release();
    hub.hold = undefined;
    assert.equal((await first).length, 1);
  }));
