// The client's DPoP proofs (RFC 9449) checked on their own, with jose as the independent verifier:
// a small stand-in for the wire contract (docs/dpop.md) records every request, verifies each proof
// with `jwtVerify` + `EmbeddedJWK`, and can challenge for nonces. The client against the real
// server is test/client/dpop-client.test.ts; in Chromium, test/browser/dpop-page.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { createClient, memoryKeyStore, type TokenstileClientOptions } from '../../src/client/index.ts';

const base = 'http://127.0.0.1:3000';

interface SeenProof {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
  readonly header: { typ?: string; alg?: string; jwk?: JWK };
  readonly claims: Record<string, unknown>;
  readonly jkt: string;
}

/** Answers like Tokenstile's DPoP wire contract; `nonces`: challenge until the latest nonce is in the proof. */
function server(options: { nonces?: boolean; alwaysChallenge?: boolean } = {}) {
  const seen: SeenProof[] = [];
  const unproven: string[] = [];
  let nonce = 0;
  const fresh = () => `n-${++nonce}`;
  let tokenCount = 0;
  const problem = (status: number, code: string, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify({ type: 'about:blank', title: code, status, code, detail: code }), { status, headers: { 'content-type': 'application/problem+json', ...headers } });
  const fetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input), base);
    const headers = new Headers(init.headers);
    const method = init.method ?? 'GET';
    const proof = headers.get('dpop');
    const signIn = url.pathname === '/auth/login' || url.pathname === '/auth/refresh';
    if (proof === null) {
      unproven.push(`${method} ${url.pathname}`);
      if (url.pathname.startsWith('/auth/')) return problem(signIn ? 400 : 401, 'invalid_dpop_proof');
      return new Response('{}', { status: 200 });
    }
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    const jkt = await calculateJwkThumbprint(protectedHeader.jwk!);
    seen.push({ method, path: url.pathname, authorization: headers.get('authorization'), header: protectedHeader as SeenProof['header'], claims: payload, jkt });
    if (options.nonces && (options.alwaysChallenge || payload.nonce !== `n-${nonce}`)) {
      const next = fresh();
      return signIn ? problem(400, 'use_dpop_nonce', { 'dpop-nonce': next }) : problem(401, 'invalid_token', { 'dpop-nonce': next, 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce required"' });
    }
    const extra: Record<string, string> = options.nonces && url.pathname === '/auth/me' ? { 'dpop-nonce': fresh() } : {};
    if (signIn) {
      const accessToken = `at-${++tokenCount}`;
      const cookie = headers.get('tokenstile-transport') === 'cookie' || url.pathname === '/auth/refresh' && !init.body;
      const body = cookie
        ? { csrfToken: 'csrf', tokenType: 'DPoP', expiresIn: 900, session: { id: 's1' }, user: { id: 'u1', email: 'a@example.com', name: null } }
        : { tokenType: 'DPoP', accessToken, expiresIn: 900, refreshToken: `rt-${tokenCount}`, refreshExpiresIn: 3600, session: { id: 's1' }, user: { id: 'u1', email: 'a@example.com', name: null } };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', ...extra } });
    }
    if (url.pathname === '/auth/logout') return new Response(null, { status: 204 });
    return new Response(JSON.stringify({ id: 'u1', email: 'a@example.com', name: null, sessionId: 's1' }), { status: 200, headers: { 'content-type': 'application/json', ...extra } });
  }) as typeof globalThis.fetch;
  return { fetch, seen, unproven };
}

function client(fetch: typeof globalThis.fetch, options: TokenstileClientOptions = {}) {
  return createClient({ baseUrl: base, autoRefresh: false, storage: null, locks: null, channel: null, dpop: true, fetch, ...options });
}

const sha256url = (text: string) => createHash('sha256').update(text, 'ascii').digest('base64url');

test('a sign-in proof: dpop+jwt, ES256, a public P-256 JWK, htm and htu of the request, fresh iat and jti, no ath', async () => {
  const s = server();
  const c = client(s.fetch, { transport: 'header' });
  await c.login({ email: 'a@example.com', password: 'pw' });
  const [login] = s.seen;
  assert.equal(login!.header.typ, 'dpop+jwt');
  assert.equal(login!.header.alg, 'ES256');
  assert.deepEqual(Object.keys(login!.header.jwk!).sort(), ['crv', 'kty', 'x', 'y'], 'only the public members');
  assert.equal(login!.header.jwk!.crv, 'P-256');
  assert.equal(login!.claims.htm, 'POST');
  assert.equal(login!.claims.htu, `${base}/auth/login`);
  assert.ok(Math.abs(Number(login!.claims.iat) - Date.now() / 1000) < 120);
  assert.match(String(login!.claims.jti), /^[\w-]{22,}$/);
  assert.equal(login!.claims.ath, undefined);
  assert.equal(login!.authorization, null, 'a sign-in sends no access token');
  c.close();
});

test('a protected request: Authorization DPoP, the same key, ath = base64url(SHA-256(token)), htu without the query, a new jti each time', async () => {
  const s = server();
  const c = client(s.fetch, { transport: 'header' });
  await c.login({ email: 'a@example.com', password: 'pw' });
  await c.fetch('/auth/me?x=1#frag');
  await c.fetch('/auth/me', { method: 'PATCH', json: { name: 'A' } });
  const [login, read, write] = s.seen;
  assert.equal(read!.authorization, 'DPoP at-1');
  assert.equal(read!.claims.ath, sha256url('at-1'));
  assert.equal(read!.claims.htu, `${base}/auth/me`);
  assert.equal(read!.claims.htm, 'GET');
  assert.equal(write!.claims.htm, 'PATCH');
  assert.equal(read!.jkt, login!.jkt);
  assert.equal(write!.jkt, login!.jkt);
  assert.equal(new Set(s.seen.map((p) => p.claims.jti)).size, 3, 'every proof has its own jti');
  c.close();
});

test('a refresh proves the same key and then uses the new token', async () => {
  const s = server();
  const c = client(s.fetch, { transport: 'header' });
  await c.login({ email: 'a@example.com', password: 'pw' });
  assert.equal(await c.refresh(), true);
  await c.me();
  const [login, refresh, me] = s.seen;
  assert.equal(refresh!.path, '/auth/refresh');
  assert.equal(refresh!.jkt, login!.jkt);
  assert.equal(refresh!.claims.ath, undefined);
  assert.equal(me!.authorization, 'DPoP at-2');
  assert.equal(me!.claims.ath, sha256url('at-2'));
  c.close();
});

test('nonces: a 400 use_dpop_nonce at sign-in and a 401 DPoP use_dpop_nonce challenge are each retried once with the nonce; the latest nonce goes with the next proof', async () => {
  const s = server({ nonces: true });
  const c = client(s.fetch, { transport: 'header' });
  await c.login({ email: 'a@example.com', password: 'pw' });
  assert.deepEqual(s.seen.map((p) => [p.path, p.claims.nonce]), [['/auth/login', undefined], ['/auth/login', 'n-1']]);
  const me = await c.fetch('/auth/me');
  assert.equal(me.status, 200);
  // The answer to /auth/me carried a new nonce (n-2): the next proof has it, without a challenge.
  assert.equal((await c.fetch('/auth/me')).status, 200);
  assert.deepEqual(s.seen.slice(2).map((p) => p.claims.nonce), ['n-1', 'n-2']);
  c.close();
});

test('a server that challenges again gets one retry only, and its answer is returned', async () => {
  const s = server({ nonces: true, alwaysChallenge: true });
  const c = client(s.fetch, { transport: 'header' });
  await assert.rejects(c.login({ email: 'a@example.com', password: 'pw' }), { status: 400, code: 'use_dpop_nonce' });
  assert.equal(s.seen.length, 2);
  c.close();
});

test('cookie transport: no access token in the page, a proof (no ath) on every request, one key for the tabs and reloads of the origin', async () => {
  const s = server();
  const keyStore = memoryKeyStore();
  const storage = new Map<string, string>();
  const kv = { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v), removeItem: (k: string) => void storage.delete(k) };
  const a = client(s.fetch, { dpop: { keyStore }, storage: kv });
  await a.login({ email: 'a@example.com', password: 'pw' });
  await a.me();
  const reloaded = client(s.fetch, { dpop: { keyStore }, storage: kv }); // a reload, or another tab
  await reloaded.me();
  assert.equal(await reloaded.refresh(), true);
  const [login, me, again, refresh] = s.seen;
  assert.equal(me!.authorization, null);
  assert.equal(me!.claims.ath, undefined);
  assert.equal(again!.jkt, login!.jkt, 'the reloaded page signs with the stored key');
  assert.equal(refresh!.jkt, login!.jkt);
  const pair = await keyStore.get('tokenstile');
  assert.equal(pair!.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey('jwk', pair!.privateKey));
  a.close();
  reloaded.close();
});

test('logout deletes the key, and the next sign-in gets a new one', async () => {
  const s = server();
  const keyStore = memoryKeyStore();
  const c = client(s.fetch, { dpop: { keyStore } });
  await c.login({ email: 'a@example.com', password: 'pw' });
  const first = s.seen[0]!.jkt;
  await c.logout();
  await waitFor(async () => (await keyStore.get('tokenstile')) === null, 'the key is deleted');
  await c.login({ email: 'a@example.com', password: 'pw' });
  const second = s.seen.at(-1)!.jkt;
  assert.notEqual(second, first);
  c.close();
});

test('every sign-in starts with a new key, so no two sessions share one', async () => {
  const s = server();
  const c = client(s.fetch, { transport: 'header' });
  await c.login({ email: 'a@example.com', password: 'pw' });
  await c.signIn('/auth/login', { email: 'a@example.com', password: 'pw' });
  assert.notEqual(s.seen[0]!.jkt, s.seen[1]!.jkt);
  c.close();
});

test('redirectSignInUrl carries the thumbprint of the key the redirect session will be bound to', async () => {
  const s = server();
  const keyStore = memoryKeyStore();
  const c = client(s.fetch, { dpop: { keyStore } });
  const url = new URL(await c.redirectSignInUrl('/auth/oauth/google?returnTo=%2Faccount'), base);
  assert.equal(url.searchParams.get('returnTo'), '/account');
  const pair = await keyStore.get('tokenstile');
  const { exportJWK } = await import('jose');
  assert.equal(url.searchParams.get('dpop_jkt'), await calculateJwkThumbprint(await exportJWK(pair!.publicKey)));
  const off = client(s.fetch, { dpop: false });
  assert.equal(await off.redirectSignInUrl('/auth/oauth/google'), '/auth/oauth/google');
  off.close();
  c.close();
});

test('no proof goes to a foreign origin, nor anywhere with DPoP off', async () => {
  const s = server();
  const c = client(s.fetch, { transport: 'header' });
  await c.login({ email: 'a@example.com', password: 'pw' });
  await c.fetch('https://elsewhere.example/api');
  assert.deepEqual(s.unproven, ['GET /api']);
  const off = client(s.fetch, { transport: 'header', dpop: false });
  await assert.rejects(off.login({ email: 'a@example.com', password: 'pw' }), { code: 'invalid_dpop_proof' });
  c.close();
  off.close();
});

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
