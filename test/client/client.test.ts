// The browser client (tokenstile/client) in Node, against the real app through app.inject: a tiny
// cookie jar stands in for the browser's, Node's BroadcastChannel and a promise queue for Web
// Locks, so that two client instances behave as two tabs. Time is the app's manual clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient, TokenstileProblem, type TokenstileClient, type TokenstileClientOptions } from '../../src/client/index.ts';
import type { KeyValueStorage, LockManagerLike } from '../../src/client/index.ts';
import { goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { bothTabsAfterExpiry, CookieJar, injectFetch, memoryLocks, memoryStorage } from './inject-fetch.ts';

let t: TestApp;
before(async () => {
  t = await testApp({ accessTokenTtl: '60s', clockTolerance: '0s' });
});
after(() => t.close());

async function registered(): Promise<string> {
  const email = uniqueEmail();
  const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  assert.equal(res.statusCode, 201);
  return email;
}

const clients: TokenstileClient[] = [];
function client(options: TokenstileClientOptions): TokenstileClient {
  const c = createClient({ autoRefresh: false, now: () => t.clock.now(), ...options });
  clients.push(c);
  return c;
}
after(() => clients.forEach((c) => c.close()));

/** Waits (at most 10 s: a busy machine may be slow to deliver) until BroadcastChannel messages have made `condition` true. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!condition() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), `never happened: ${what}`);
}

describe('header transport (tokens in memory only)', () => {
  test('login, an authenticated request, one refresh on token_expired and a retry', async () => {
    const email = await registered();
    const counts = new Map<string, number>();
    const c = client({ transport: 'header', fetch: injectFetch(t.app, null, counts) });
    const user = await c.login({ email, password: goodPassword });
    assert.equal(user.email, email);
    assert.equal((await c.me()).email, email);
    t.clock.advance(61_000);
    const res = await c.fetch('/auth/me');
    assert.equal(res.status, 200);
    assert.equal(counts.get('/auth/refresh'), 1);
    assert.equal(counts.get('/auth/me'), 3, 'the expired request, and its retry');
  });

  test('a revoked session emits signedout with the reason, and the error is thrown as a TokenstileProblem', async () => {
    const email = await registered();
    const c = client({ transport: 'header', fetch: injectFetch(t.app, null) });
    const reasons: string[] = [];
    c.on('signedout', ({ reason }) => reasons.push(reason));
    await c.login({ email, password: goodPassword });
    await t.app.tokenstile.revoke({ sessionId: c.sessionId! });
    await assert.rejects(c.me(), (err: unknown) => err instanceof TokenstileProblem && err.code === 'session_revoked' && err.status === 401);
    assert.deepEqual(reasons, ['session_revoked']);
    assert.equal(c.user, null);
  });

  test('a refused field is named on the TokenstileProblem', async () => {
    const c = client({ transport: 'header', fetch: injectFetch(t.app, null) });
    await assert.rejects(c.register({ email: 'not-an-email', password: goodPassword }), (err: unknown) => err instanceof TokenstileProblem && err.code === 'invalid_request' && err.field === 'email');
  });

  test('wrong credentials are a TokenstileProblem, and nothing is signed in', async () => {
    const c = client({ transport: 'header', fetch: injectFetch(t.app, null) });
    await assert.rejects(c.login({ email: uniqueEmail(), password: 'not the password 1' }), { code: 'invalid_credentials', status: 401 });
    assert.equal(c.user, null);
  });
});

describe('cookie transport (two tabs of one browser)', () => {
  function tabs(storage = memoryStorage(), locks = memoryLocks()) {
    const jar = new CookieJar();
    const counts = new Map<string, number>();
    const key = `ts-test-${Math.random().toString(36).slice(2)}`;
    const make = (wrap: (f: typeof fetch) => typeof fetch = (f) => f) =>
      client({ fetch: wrap(injectFetch(t.app, jar, counts)), storage, locks, channel: new BroadcastChannel(key) as never, storageKey: key });
    return { jar, counts, storage, a: make(), b: make(), make };
  }

  test('the CSRF header goes with state changes; no token is ever visible to the script', async () => {
    const email = await registered();
    const { a, jar, storage } = tabs();
    await a.login({ email, password: goodPassword });
    assert.ok(jar.cookies.has('__Host-tokenstile-access') && jar.cookies.has('__Secure-tokenstile-refresh'));
    const stored = [...storage.map.values()].join();
    assert.ok(!stored.includes(jar.cookies.get('__Host-tokenstile-access')!.value), 'the access token reached storage');
    assert.equal((await a.updateName('Via cookie')).name, 'Via cookie');
  });

  test('a second tab picks the session up from storage; one refresh serves both tabs when the cookie has expired', async () => {
    const email = await registered();
    const { a, b, counts, jar, make } = tabs();
    await a.login({ email, password: goodPassword });
    await until(() => b.user !== null, 'the other tab heard of the sign-in');
    const third = make(); // opened later: reads the stored session
    assert.equal(third.user?.email, email);
    assert.equal(b.user?.email, email);
    await bothTabsAfterExpiry([a, b], jar, counts, () => t.clock.advance(61_000));
    assert.equal((await third.updateName('Third tab')).name, 'Third tab');
  });

  test('a request refused as expired while another tab refreshed is retried with the new cookie, not refreshed again', async () => {
    const email = await registered();
    const { a, counts, jar, make } = tabs();
    // This tab's /auth/me answer is held back until the other tab has refreshed and this one has heard of it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = true;
    const b = make((f) => (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await f(input, init);
      if (holding && String(input).endsWith('/auth/me')) {
        holding = false;
        await held;
      }
      return res;
    }) as typeof fetch);
    await a.login({ email, password: goodPassword });
    await until(() => b.user !== null, 'the other tab heard of the sign-in');
    t.clock.advance(61_000);
    jar.cookies.delete('__Host-tokenstile-access');
    const late = b.fetch('/auth/me'); // sent with the expired cookie
    await until(() => !holding, 'the request was answered');
    let renewed = false;
    b.on('session', () => (renewed = true));
    assert.equal(await a.refresh(), true);
    await until(() => renewed, 'the other tab heard of the refresh');
    release();
    assert.equal((await late).status, 200);
    assert.equal(counts.get('/auth/refresh'), 1, 'the refresh the other tab made served this request too');
  });

  test("a tab that has not heard of another tab's refresh yet (storage and messages lag) does not refresh again", async () => {
    const email = await registered();
    const jar = new CookieJar();
    const counts = new Map<string, number>();
    const locks = memoryLocks();
    const key = `ts-test-${Math.random().toString(36).slice(2)}`;
    const tab = (storage: KeyValueStorage) => client({ fetch: injectFetch(t.app, jar, counts), storage, locks, channel: null, storageKey: key });
    const storageA = memoryStorage();
    const a = tab(storageA);
    await a.login({ email, password: goodPassword });
    // The other tab's storage still holds the session as it was before a's refresh, and no message comes.
    const storageB = memoryStorage();
    storageB.setItem(key, storageA.getItem(key)!);
    const b = tab(storageB);
    t.clock.advance(61_000);
    jar.cookies.delete('__Host-tokenstile-access');
    assert.equal(await a.refresh(), true);
    assert.equal(await b.refresh(), true, 'the session goes on');
    assert.equal(counts.get('/auth/refresh'), 1, 'the lagging tab took the refresh already made');
    assert.equal((await b.me()).email, email);
  });

  test('signing out in one tab signs out the others at once', async () => {
    const email = await registered();
    const { a, b, jar } = tabs();
    const seen: string[] = [];
    b.on('signedout', ({ reason }) => seen.push(reason));
    await a.login({ email, password: goodPassword });
    await until(() => b.user !== null, 'the other tab heard of the sign-in');
    await a.logout();
    await until(() => seen.length > 0, 'the other tab heard of the sign-out');
    assert.deepEqual(seen, ['logout']);
    assert.equal(b.user, null);
    // The device cookie (a sign-in throttling hint, no token) stays by design.
    assert.deepEqual([...jar.cookies.keys()].filter((name) => name !== '__Secure-tokenstile-device'), [], 'logout expired both session cookies');
  });

  test('resume on page load: checks without an error answer, refreshes when only the refresh cookie is left, signs out when the session ended', async () => {
    const email = await registered();
    const { a, jar, counts, make } = tabs();
    await a.login({ email, password: goodPassword });
    const seen: string[] = [];
    // A page loaded later, with the session in storage.
    const page = make();
    page.on('signedout', ({ reason }) => seen.push(reason));
    const answered = async (run: () => Promise<boolean>) => {
      const before = counts.get('/auth/refresh') ?? 0;
      const ok = await run();
      return { ok, refreshed: (counts.get('/auth/refresh') ?? 0) - before };
    };
    assert.deepEqual(await answered(() => page.resume()), { ok: true, refreshed: 0 });
    // The browser dropped the expired access cookie: one refresh, and the session goes on.
    t.clock.advance(61_000);
    jar.cookies.delete('__Host-tokenstile-access');
    assert.deepEqual(await answered(() => page.resume()), { ok: true, refreshed: 1 });
    assert.equal((await page.me()).email, email);
    // Ended elsewhere: no refresh is tried, signedout says why, the cookies are dropped.
    await t.app.tokenstile.revoke({ sessionId: page.sessionId! });
    assert.deepEqual(await answered(() => page.resume()), { ok: false, refreshed: 0 });
    assert.deepEqual(seen, ['session_revoked']);
    assert.equal(page.user, null);
    assert.deepEqual([...jar.cookies.keys()].filter((name) => name !== '__Secure-tokenstile-device'), []);
    assert.equal(await page.resume(), false, 'nothing stored: signed out, without a request');
  });

  test('a refresh token reused elsewhere ends the session: signedout with refresh_token_reused', async () => {
    const email = await registered();
    const { a, jar } = tabs();
    const seen: string[] = [];
    a.on('signedout', ({ reason }) => seen.push(reason));
    await a.login({ email, password: goodPassword });
    const stolen = jar.cookies.get('__Secure-tokenstile-refresh')!.value;
    assert.equal(await a.refresh(), true);
    t.clock.advance(11_000);
    // The thief replays the old refresh token after the grace window: the session is revoked.
    jar.cookies.set('__Secure-tokenstile-refresh', { value: stolen, path: '/auth/refresh' });
    assert.equal(await a.refresh(), false);
    assert.deepEqual(seen, ['refresh_token_reused']);
  });
});
