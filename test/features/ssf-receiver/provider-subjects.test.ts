// Subjects of a social sign-in provider: a SET naming a provider account (iss_sub with the
// provider's issuer) or a provider session (complex: user + opaque session `sid`) ends the
// Tokenstile sessions that provider sign-in started (any adapter, any backend).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testApp, type TestApp } from '../../helpers.ts';
import { freePort } from '../../scale/harness.ts';
import { CookieAgent } from '../social/cookie-agent.ts';
import { startFakeOidcProvider, type FakeOidcProvider } from '../social/fake-providers.ts';
import { pushSecret } from './receiver-fixture.ts';
import { startTransmitter, type TestTransmitter } from './test-transmitter.ts';

let base: string;
let fake: FakeOidcProvider;
let transmitter: TestTransmitter;
let t: TestApp;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  fake = await startFakeOidcProvider();
  let clock = () => Date.now();
  transmitter = await startTransmitter(base, () => clock());
  t = await testApp({
    issuer: base,
    oauthProviders: [{ id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret }],
    sharedSignalsReceivers: [{ id: 'upstream', issuer: transmitter.issuer, delivery: { method: 'push', secret: pushSecret } }],
  });
  clock = () => t.clock.now();
  await t.app.listen({ host: '127.0.0.1', port });
});
after(async () => {
  await t?.close();
  await Promise.all([fake?.close(), transmitter?.close()]);
});

/** Signs a browser in with the fake provider as `login`; its session's provider `sid` is `sid-<login>`. */
async function signIn(login: string): Promise<CookieAgent> {
  const agent = new CookieAgent();
  const first = await agent.request(`${base}/auth/oauth/fake?returnTo=/account`);
  assert.equal(first.status, 302, first.body);
  const url = new URL(first.location!);
  url.searchParams.set('login_hint', login);
  await agent.follow(url.href, (u) => u.startsWith(base) && !new URL(u).pathname.startsWith('/auth/oauth/'));
  assert.equal(await meStatus(agent), 200, 'signed in');
  return agent;
}

async function meStatus(agent: CookieAgent): Promise<number> {
  return (await agent.request(`${base}/auth/me`)).status;
}

async function push(subId: object): Promise<number> {
  const { token } = await transmitter.sign({ subId });
  const res = await fetch(`${base}/ssf/receivers/upstream/events`, { method: 'POST', headers: { authorization: `Bearer ${pushSecret}`, 'content-type': 'application/secevent+jwt' }, body: token });
  return res.status;
}

test('a complex subject naming the provider session ends the sessions it started, not the user\'s others', async () => {
  const login = `bob-${randomBytes(4).toString('hex')}`;
  const browser = await signIn(login);
  fake.accounts.set(`${login}-other`, { email: `${login}-other@fake.example`, emailVerified: true });
  const bystander = await signIn(`${login}-other`);
  assert.equal(await push({ format: 'complex', user: { format: 'iss_sub', iss: fake.issuer, sub: login }, session: { format: 'opaque', id: `sid-${login}-wrong` } }), 202);
  assert.equal(await meStatus(browser), 200, 'another provider session: nothing ends');
  assert.equal(await push({ format: 'complex', user: { format: 'iss_sub', iss: fake.issuer, sub: login }, session: { format: 'opaque', id: `sid-${login}` } }), 202);
  assert.equal(await meStatus(browser), 401);
  assert.equal(await meStatus(bystander), 200);
});

test('iss_sub with the provider\'s issuer: every session of the linked user ends', async () => {
  const login = `carol-${randomBytes(4).toString('hex')}`;
  const first = await signIn(login);
  const second = await signIn(login);
  assert.equal(await push({ format: 'iss_sub', iss: `${fake.issuer}/`, sub: login }), 202);
  assert.equal(await meStatus(first), 401);
  assert.equal(await meStatus(second), 401);
});
