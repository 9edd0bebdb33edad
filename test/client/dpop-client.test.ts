// The browser client with DPoP on (tokenstile/client `dpop: true`) in Node, against the real app
// with TOKENSTILE_DPOP=required and server nonces on: every call of the client works with proofs,
// and what the page's network carries (cookies, tokens) is refused without the client's key.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { after, before, describe, test } from 'node:test';
import { createClient, memoryKeyStore, type TokenstileClient, type TokenstileClientOptions } from '../../src/client/index.ts';
import { goodPassword, issuer, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { bothTabsAfterExpiry, CookieJar, injectFetch, memoryLocks, memoryStorage } from './inject-fetch.ts';

let t: TestApp;
before(async () => {
  t = await testApp({ accessTokenTtl: '60s', clockTolerance: '0s', dpop: 'required', dpopNonce: true });
});
after(() => t.close());

const clients: TokenstileClient[] = [];
function client(options: TokenstileClientOptions): TokenstileClient {
  const c = createClient({ baseUrl: issuer, autoRefresh: false, now: () => t.clock.now(), dpop: true, ...options });
  clients.push(c);
  return c;
}
after(() => clients.forEach((c) => c.close()));

async function registered(): Promise<string> {
  const email = uniqueEmail();
  const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  assert.equal(res.statusCode, 201);
  return email;
}

/** `fetch` that keeps the last request's headers of each path (what a leaked log or a proxy would see). */
function recording(f: typeof fetch) {
  const seen = new Map<string, Headers>();
  const wrapped = (async (input: string | URL | Request, init: RequestInit = {}) => {
    seen.set(new URL(String(input), issuer).pathname, new Headers(init.headers));
    return f(input, init);
  }) as typeof fetch;
  return { fetch: wrapped, seen };
}

describe('header transport, DPoP required, nonces on', () => {
  test('login, requests, a refresh on token_expired and logout all go with proofs; the tokens are DPoP-bound', async () => {
    const email = await registered();
    const counts = new Map<string, number>();
    const net = recording(injectFetch(t.app, null, counts));
    const c = client({ transport: 'header', fetch: net.fetch });
    await c.login({ email, password: goodPassword });
    assert.ok(net.seen.get('/auth/login')!.has('dpop'));
    assert.equal((await c.me()).email, email);
    assert.match(net.seen.get('/auth/me')!.get('authorization')!, /^DPoP ey/);
    t.clock.advance(61_000);
    assert.equal((await c.fetch('/auth/me')).status, 200, 'refreshed with a proof, and retried');
    assert.equal(counts.get('/auth/refresh'), 1);
    assert.equal((await c.updateName('Bound')).name, 'Bound');
    await c.logout();
    assert.equal(c.user, null);
  });

  test('the access token seen on the wire is refused as Bearer, as DPoP without a proof, and with the proof it came with', async () => {
    const email = await registered();
    const net = recording(injectFetch(t.app, null));
    const c = client({ transport: 'header', fetch: net.fetch });
    await c.login({ email, password: goodPassword });
    await c.me();
    const leaked = net.seen.get('/auth/me')!;
    const token = leaked.get('authorization')!.slice('DPoP '.length);
    const asBearer = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
    assert.equal(asBearer.statusCode, 401);
    assert.match(String(asBearer.headers['www-authenticate']), /^DPoP /);
    const noProof = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `DPoP ${token}` } });
    assert.equal(noProof.statusCode, 401);
    assert.match(String(noProof.headers['www-authenticate']), /DPoP error="invalid_dpop_proof"/);
    const replayed = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `DPoP ${token}`, dpop: leaked.get('dpop')! } });
    assert.equal(replayed.statusCode, 401, 'a proof is good once');
    assert.match(String(replayed.headers['www-authenticate']), /^DPoP error=/);
    assert.equal((await c.me()).email, email, 'the client goes on');
  });
});

describe('cookie transport (the account page), DPoP required, nonces on', () => {
  function tabs() {
    const jar = new CookieJar();
    const counts = new Map<string, number>();
    const storage = memoryStorage();
    const locks = memoryLocks();
    const keyStore = memoryKeyStore(); // IndexedDB in a browser: one key for the origin's tabs
    const key = `ts-dpop-${Math.random().toString(36).slice(2)}`;
    const make = () => client({ fetch: injectFetch(t.app, jar, counts), storage, locks, channel: new BroadcastChannel(key) as never, storageKey: key, dpop: { keyStore } });
    return { jar, counts, storage, keyStore, key, a: make(), b: make(), make };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + 10_000;
    while (!condition() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(condition(), `never happened: ${what}`);
  }

  test('sign in, name, sessions, refresh, password change and logout, each with a proof; the cookies alone get 401 DPoP', async () => {
    const email = await registered();
    const { a, jar, keyStore, key, counts } = tabs();
    await a.login({ email, password: goodPassword });
    assert.equal((await a.updateName('Cookie and key')).name, 'Cookie and key');
    assert.equal((await a.sessions()).length, 1);
    const cookies = jar.header(`${issuer}/auth/me`)!;
    const stolen = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: cookies } });
    assert.equal(stolen.statusCode, 401);
    assert.match(String(stolen.headers['www-authenticate']), /DPoP error="invalid_dpop_proof"/);
    // The browser drops the access cookie at its Max-Age: refresh (refresh cookie + proof) and retry.
    t.clock.advance(61_000);
    jar.cookies.delete('__Host-tokenstile-access');
    assert.equal((await a.me()).email, email);
    assert.equal(counts.get('/auth/refresh'), 1);
    await a.changePassword(goodPassword, `${goodPassword}!x`);
    const stored = await keyStore.get(key);
    assert.ok(stored !== null);
    await a.logout();
    await until(() => jar.cookies.size <= 1, 'the session cookies are expired');
    const deadline = performance.now() + 10_000;
    while ((await keyStore.get(key)) !== null && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(await keyStore.get(key), null, 'logout deletes the key');
  });

  test('the server takes a cookie request\'s proof without ath, but checks an ath that is there', async () => {
    const email = await registered();
    const { a, jar, keyStore, key } = tabs();
    await a.login({ email, password: goodPassword });
    const cookie = jar.header(`${issuer}/auth/me`)!;
    const pair = (await keyStore.get(key))!;
    const jwk = await exportJWK(pair.publicKey);
    const nonce = String((await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).headers['dpop-nonce']);
    const proof = (claims: Record<string, unknown>) =>
      new SignJWT({ htm: 'GET', htu: `${issuer}/auth/me`, nonce, ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setJti(randomUUID()).setIssuedAt(Math.floor(t.clock.now() / 1000)).sign(pair.privateKey);
    const withoutAth = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie, dpop: await proof({}) } });
    assert.equal(withoutAth.statusCode, 200);
    const wrongAth = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie, dpop: await proof({ ath: 'not-the-hash-of-the-cookie-token-000000000' }) } });
    assert.equal(wrongAth.statusCode, 401);
    assert.match(String(wrongAth.headers['www-authenticate']), /DPoP error="invalid_dpop_proof"/);
    // Under the DPoP scheme ath stays required.
    const token = cookie.match(/__Host-tokenstile-access=([^;]+)/)![1]!;
    const schemeWithoutAth = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `DPoP ${token}`, dpop: await proof({}) } });
    assert.equal(schemeWithoutAth.statusCode, 401);
  });

  test('two tabs share the key and one refresh; a sign-out in one signs out both', async () => {
    const email = await registered();
    const { a, b, jar, counts } = tabs();
    await a.login({ email, password: goodPassword });
    await until(() => b.user !== null, 'the other tab heard of the sign-in');
    await bothTabsAfterExpiry([a, b], jar, counts, () => t.clock.advance(61_000));
    let signedOut = false;
    b.on('signedout', () => (signedOut = true));
    await a.logout();
    await until(() => signedOut, 'the other tab signed out');
  });

  test('a reload that lost the key (a private window keeps it in memory only) signs out with dpop_key_missing', async () => {
    const email = await registered();
    const { a, jar, key, storage, counts } = tabs();
    await a.login({ email, password: goodPassword });
    jar.cookies.delete('__Host-tokenstile-access'); // expired while the page was closed
    const reloaded = client({ fetch: injectFetch(t.app, jar, counts), storage, locks: null, channel: null, storageKey: key, dpop: { keyStore: memoryKeyStore() } });
    const reasons: string[] = [];
    reloaded.on('signedout', ({ reason }) => reasons.push(reason));
    assert.equal(await reloaded.resume(), false);
    assert.deepEqual(reasons, ['dpop_key_missing']);
    assert.equal(reloaded.user, null);
  });

  test('a page reload (a new client on the stored key) goes on with the session; a new sign-in gets a new key', async () => {
    const email = await registered();
    const { a, make, keyStore, key } = tabs();
    await a.login({ email, password: goodPassword });
    const first = await keyStore.get(key);
    const reloaded = make();
    assert.equal(await reloaded.resume(), true);
    assert.equal((await reloaded.me()).email, email);
    assert.equal(await keyStore.get(key), first, 'the same key');
    await reloaded.login({ email, password: goodPassword });
    assert.notEqual(await keyStore.get(key), first);
    assert.equal((await reloaded.me()).email, email);
  });
});

describe('a server with DPoP off', () => {
  test('the client with dpop: true gets Bearer tokens and goes on as without DPoP (no proof after the sign-in)', async () => {
    const off = await testApp({ dpop: 'off' });
    try {
      const email = uniqueEmail();
      assert.equal((await off.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } })).statusCode, 201);
      const net = recording(injectFetch(off.app, null));
      const c = createClient({ baseUrl: issuer, autoRefresh: false, now: () => off.clock.now(), transport: 'header', dpop: true, fetch: net.fetch });
      clients.push(c);
      await c.login({ email, password: goodPassword });
      assert.equal((await c.me()).email, email);
      assert.match(net.seen.get('/auth/me')!.get('authorization')!, /^Bearer /);
      assert.equal(net.seen.get('/auth/me')!.has('dpop'), false);
      assert.equal(await c.refresh(), true);
      await c.logout();
    } finally {
      await off.close();
    }
  });
});
