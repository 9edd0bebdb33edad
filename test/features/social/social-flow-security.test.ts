// What the sign-in flow logs: the provider's authorization code kept out of request logs. Against
// our forging provider on loopback (it approves at once) and a Tokenstile of any adapter and backend.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { appAdapter, testApp, type TestApp } from '../../helpers.ts';
import { startFakeOidcProvider, type FakeOidcProvider } from './fake-providers.ts';

const flowCookie = '__Host-tokenstile-oauth';
let fake: FakeOidcProvider;
let t: TestApp;
const logLines: string[] = [];

before(async () => {
  fake = await startFakeOidcProvider();
  const stream = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  t = await testApp({
    oauthProviders: [{ id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret }],
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
