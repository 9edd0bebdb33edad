// What the sign-in flow keeps, logs and limits: flow records without secrets, starts limited per
// client IP, header clients' codes bound to a PKCE verifier, the provider's authorization code kept
// out of request logs, and whether an account has a password (for the account page). Against our
// forging provider on loopback (it approves at once) and a Tokenstile of any adapter and backend.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { internals } from '../../../src/core/core-internals.ts';
import { appAdapter, bearer, problemOf, testApp, type TestApp } from '../../helpers.ts';
import { startFakeOidcProvider, type FakeOidcProvider } from './fake-providers.ts';

const flowCookie = '__Host-tokenstile-oauth';
let fake: FakeOidcProvider;
let t: TestApp;
const logLines: string[] = [];

before(async () => {
  fake = await startFakeOidcProvider();
  const stream = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  t = await testApp({
    // Two providers at the same issuer: a response for one must not pass for the other's.
    oauthProviders: [
      { id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret },
      { id: 'twin', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret },
    ],
    // Only the social starts' rule matters here: 3 per minute per IP.
    rateLimits: { loginPerIp: { limit: 3, window: '1m' }, loginPerAccount: false, loginPerAccountAllClients: false, registerPerIp: false, refreshPerIp: false },
    logger: { level: 'info', stream },
  });
});
after(async () => {
  await t?.close();
  await fake?.close();
});

/** A start from `ip`: the answer, and the flow cookie it set. */
async function start(ip: string, query = 'returnTo=/account') {
  const res = await t.app.inject({ method: 'GET', url: `/auth/oauth/fake?${query}`, remoteAddress: ip });
  const cookie = res.cookies.find((c) => c.name === flowCookie)?.value;
  return { res, cookie };
}

/** The rest of a flow started by `start`: the provider approves at once; returns the callback's redirect. */
async function finish(started: Awaited<ReturnType<typeof start>>, ip: string) {
  const atProvider = await fetch(started.res.headers.location as string, { redirect: 'manual' });
  const callback = new URL(atProvider.headers.get('location')!);
  return t.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, cookies: { [flowCookie]: started.cookie! }, remoteAddress: ip });
}

const fragmentOf = (location: unknown) => new URLSearchParams(new URL(String(location)).hash.slice(1));

test('a flow record holds no state, nonce or PKCE verifier: only the flow token\'s SHA-256 and where to go back', async () => {
  const { res, cookie } = await start('203.0.113.10');
  assert.equal(res.statusCode, 302);
  const url = new URL(res.headers.location as string);
  const state = url.searchParams.get('state')!;
  const nonce = url.searchParams.get('nonce')!;
  const rows = await internals(t.app.tokenstile).stores.database.query<{ hash: string; data: string }>("SELECT hash, data FROM one_time_tokens WHERE purpose = 'social_flow'");
  const row = rows.find((r) => r.hash === createHash('sha256').update(cookie!).digest('base64url'));
  assert.ok(row, 'the record is found by the cookie\'s SHA-256');
  assert.ok(!row.data.includes(state) && !row.data.includes(nonce), 'neither state nor nonce is stored');
  assert.deepEqual(Object.keys(JSON.parse(row.data)).sort(), ['codeChallenge', 'link', 'mode', 'provider', 'redirectUri', 'returnTo']);
  // The flow still completes: the secrets come back from the cookie's token.
  const back = await finish({ res, cookie }, '203.0.113.10');
  assert.equal(fragmentOf(back.headers.location).get('tokenstile_signed_in'), 'fake', back.body);
});

test('the callback\'s authorization code and state are not in the request log lines', async () => {
  const started = await start('203.0.113.11');
  const atProvider = await fetch(started.res.headers.location as string, { redirect: 'manual' });
  const callback = new URL(atProvider.headers.get('location')!);
  const code = callback.searchParams.get('code')!;
  await t.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, cookies: { [flowCookie]: started.cookie! }, remoteAddress: '203.0.113.11' });
  const text = logLines.join('');
  assert.ok(!text.includes(code), 'no authorization code in the log');
  assert.ok(!text.includes(callback.searchParams.get('state')!), 'no state in the log');
  // Fastify logs every request (its path); the other adapters log no requests at all.
  if (appAdapter === 'fastify') assert.ok(text.includes('"url":"/auth/oauth/fake/callback"'), text.slice(-2000));
});

describe('starts are limited per client IP (each writes a 10-minute record)', () => {
  test('over the limit: 429 with Retry-After, no record written; other IPs and password sign-ins unaffected', async () => {
    const ip = '198.51.100.20';
    const count = async () => (await internals(t.app.tokenstile).stores.database.query("SELECT hash FROM one_time_tokens WHERE purpose = 'social_flow'")).length;
    for (let i = 0; i < 3; i++) assert.equal((await start(ip)).res.statusCode, 302, `start ${i + 1}`);
    const before = await count();
    const over = await start(ip);
    assert.equal(over.res.statusCode, 429);
    assert.equal(problemOf(over.res).code, 'too_many_requests');
    assert.ok(Number(over.res.headers['retry-after']) > 0);
    assert.equal(over.cookie, undefined, 'no flow cookie');
    assert.equal(await count(), before, 'no record written');
    assert.equal((await start('198.51.100.21')).res.statusCode, 302, 'another IP starts');
    // Password sign-ins count on keys of their own: this IP is not locked out of them.
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'nobody@example.com', password: 'wrong password 1' }, remoteAddress: ip });
    assert.equal(login.statusCode, 401);
    // After the window, starts pass again.
    t.clock.advance(60_000);
    assert.equal((await start(ip)).res.statusCode, 302);
  });

  test('the link start counts too', async () => {
    const tokens = await t.signUp();
    const ip = '198.51.100.30';
    const link = () => t.app.inject({ method: 'POST', url: '/auth/oauth/fake/link', headers: bearer(tokens.accessToken), payload: {}, remoteAddress: ip });
    for (let i = 0; i < 3; i++) assert.equal((await link()).statusCode, 200);
    const over = await link();
    assert.equal(over.statusCode, 429, over.body);
    assert.equal(problemOf(over).code, 'too_many_requests');
  });
});

describe('header clients: the code is bound to a PKCE verifier', () => {
  test('mode=code without codeChallenge is refused, naming the field', async () => {
    const { res } = await start('192.0.2.40', 'mode=code&returnTo=/account');
    assert.equal(res.statusCode, 400);
    assert.equal(problemOf(res).code, 'invalid_request');
    assert.equal(res.json().field, 'codeChallenge');
  });

  test('an exchange without codeVerifier is refused naming the field, and the code stays usable by its client', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const started = await start('192.0.2.41', `mode=code&returnTo=/account&codeChallenge=${challenge}`);
    const code = fragmentOf((await finish(started, '192.0.2.41')).headers.location).get('tokenstile_code');
    assert.ok(code);
    const bare = await t.app.inject({ method: 'POST', url: '/auth/oauth/token', payload: { code } });
    assert.equal(bare.statusCode, 400);
    assert.equal(bare.json().field, 'codeVerifier');
    const res = await t.app.inject({ method: 'POST', url: '/auth/oauth/token', payload: { code, codeVerifier: verifier } });
    assert.equal(res.statusCode, 200, res.body);
  });
});

test('the identities list says whether the account has a password (the account page offers a password change only then)', async () => {
  const started = await start('192.0.2.50', 'mode=cookie&returnTo=/account');
  const back = await finish(started, '192.0.2.50');
  const access = back.cookies.find((c) => c.name === '__Host-tokenstile-access')!.value;
  const social = await t.app.inject({ method: 'GET', url: '/auth/identities', headers: bearer(access) });
  assert.equal(social.statusCode, 200, social.body);
  assert.equal(social.json().passwordSet, false);
  assert.equal(social.json().identities.length, 1);
  const password = await t.app.inject({ method: 'GET', url: '/auth/identities', headers: bearer((await t.signUp()).accessToken) });
  assert.deepEqual(password.json(), { identities: [], passwordSet: true });
});

test('cookie-authenticated link and unlink need the session\'s CSRF token (403 csrf_failed without it)', async () => {
  const back = await finish(await start('192.0.2.60'), '192.0.2.60');
  const cookies = Object.fromEntries(back.cookies.map((c) => [c.name, c.value]));
  const link = await t.app.inject({ method: 'POST', url: '/auth/oauth/fake/link', cookies, payload: {}, remoteAddress: '192.0.2.60' });
  assert.equal(link.statusCode, 403, link.body);
  assert.equal(problemOf(link).code, 'csrf_failed');
  const { identities } = (await t.app.inject({ method: 'GET', url: '/auth/identities', cookies })).json();
  const unlink = await t.app.inject({ method: 'DELETE', url: `/auth/identities/${identities[0].id}`, cookies });
  assert.equal(unlink.statusCode, 403, unlink.body);
  assert.equal(problemOf(unlink).code, 'csrf_failed');
  // With it, the link starts.
  const { csrfToken } = (await t.app.inject({ method: 'GET', url: '/auth/oauth/session', cookies })).json();
  const ok = await t.app.inject({ method: 'POST', url: '/auth/oauth/fake/link', cookies, headers: { 'x-csrf-token': csrfToken }, payload: {}, remoteAddress: '192.0.2.61' });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('mix-up: a provider\'s response delivered to another provider\'s callback is refused, and spends the flow', async () => {
  const started = await start('192.0.2.70');
  const atProvider = await fetch(started.res.headers.location as string, { redirect: 'manual' });
  const callback = new URL(atProvider.headers.get('location')!);
  const cookies = { [flowCookie]: started.cookie! };
  const wrong = await t.app.inject({ method: 'GET', url: `/auth/oauth/twin/callback${callback.search}`, cookies });
  assert.equal(wrong.statusCode, 400);
  assert.equal(problemOf(wrong).code, 'oauth_flow_invalid');
  const right = await t.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, cookies });
  assert.equal(right.statusCode, 400, 'the flow was spent by the wrong delivery');
});
