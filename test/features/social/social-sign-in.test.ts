// Social sign-in over plain HTTP with a cookie jar: a real OpenID Provider (oidc-provider), our
// forging provider and a GitHub-shaped server, all on loopback, against a listening Tokenstile
// (any adapter, any backend: see test/helpers.ts).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { goodPassword, problemOf, testApp, uniqueEmail, type TestApp } from '../../helpers.ts';
import { freePort } from '../../scale/harness.ts';
import { CookieAgent, type AgentResponse } from './cookie-agent.ts';
import { startFakeGitHub, startFakeOidcProvider, type FakeGitHub, type FakeOidcProvider } from './fake-providers.ts';
import { startOidcProvider, type OidcProviderHarness } from './oidc-provider-harness.ts';

const accessCookie = '__Host-tokenstile-access';
const flowCookie = '__Host-tokenstile-oauth';
let base: string;
let host: string;
let op: OidcProviderHarness;
let fake: FakeOidcProvider;
let github: FakeGitHub;
let t: TestApp;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  host = `127.0.0.1:${port}`;
  [op, fake, github] = await Promise.all([startOidcProvider({ tokenstileBase: base, providerId: 'op' }), startFakeOidcProvider(), startFakeGitHub()]);
  t = await testApp({
    issuer: base,
    oauthProviders: [
      { id: 'op', issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, name: 'Acme SSO' },
      { id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret },
      { id: 'github', preset: 'github', serverUrl: github.serverUrl, clientId: github.clientId, clientSecret: github.clientSecret },
    ],
  });
  await t.app.listen({ host: '127.0.0.1', port });
});
after(async () => {
  await t?.close();
  await Promise.all([op?.close(), fake?.close(), github?.close()]);
});

/** The claims of a JWT (no check: the server checked it). */
function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
}

/** Where a redirect sent the browser back to the app, and the outcome in its fragment. */
function outcome(res: AgentResponse & { stoppedAt?: string }): { url: URL; fragment: URLSearchParams } {
  const url = new URL(res.stoppedAt ?? res.location ?? res.url);
  return { url, fragment: new URLSearchParams(url.hash.slice(1)) };
}

/** Stops at anything on Tokenstile that is not an /auth/oauth route: the app's return URL. */
const atApp = (u: string) => u.startsWith(base) && !new URL(u).pathname.startsWith('/auth/oauth/');

/** The whole browser flow with oidc-provider's pages, as `login`; returns where it ended. */
async function signInWithOp(agent: CookieAgent, login: string, start = `${base}/auth/oauth/op?returnTo=/account`) {
  const first = await agent.follow(start, atApp);
  if (first.stoppedAt) return outcome(first);
  const back = await agent.completeProviderPages(first, login, op.issuer);
  return outcome(await agent.follow(back, atApp));
}

/** A flow with the fake provider (which approves at once) as `login`. */
async function signInWithFake(agent: CookieAgent, login: string, query = 'returnTo=/account') {
  const first = await agent.request(`${base}/auth/oauth/fake?${query}`);
  assert.equal(first.status, 302, first.body);
  const url = new URL(first.location!);
  url.searchParams.set('login_hint', login);
  return outcome(await agent.follow(url.href, atApp));
}

async function me(agent: CookieAgent): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await agent.request(`${base}/auth/me`);
  return { status: res.status, json: res.status === 200 ? JSON.parse(res.body) : {} };
}

describe('OpenID Connect sign-in with oidc-provider', () => {
  test('a first sign-in creates the account (email verified as the provider says), signs the browser in with cookies and amr fed', async () => {
    const email = uniqueEmail();
    op.accounts.set('carol', { email, emailVerified: true, name: 'Carol' });
    const agent = new CookieAgent();
    const { url, fragment } = await signInWithOp(agent, 'carol');
    assert.equal(url.pathname, '/account');
    assert.equal(fragment.get('tokenstile_signed_in'), 'op');
    assert.equal(agent.cookie(host, flowCookie), undefined, 'the flow cookie is cleared');
    const access = agent.cookie(host, accessCookie);
    assert.ok(access, 'the access cookie is set');
    const who = await me(agent);
    assert.equal(who.status, 200);
    assert.equal(who.json.email, email);
    assert.equal(who.json.name, 'Carol');
    assert.equal(who.json.emailVerified, true);
    if (!access.startsWith('tsa_')) assert.deepEqual(claimsOf(access).amr, ['fed']);
    // The page then takes the session over: its CSRF token and user.
    const session = await agent.request(`${base}/auth/oauth/session`);
    assert.equal(session.status, 200, session.body);
    const body = JSON.parse(session.body);
    assert.equal(body.user.email, email);
    assert.ok(typeof body.csrfToken === 'string' && body.csrfToken.length > 20);
    // A second sign-in with the same identity is the same account.
    const again = new CookieAgent();
    await signInWithOp(again, 'carol');
    assert.equal((await me(again)).json.id, who.json.id);
    // Both are in the audit trail (written in the background: looked up until there, bounded).
    let types: string[] = [];
    for (let i = 0; i < 200 && types.filter((x) => x === 'social.signed_in').length < 2; i++) {
      types = (await t.app.tokenstile.audit({ userId: String(who.json.id), limit: 20 })).map((e) => e.type);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(types.filter((x) => x === 'social.signed_in').length, 2, types.join());
    assert.ok(types.includes('social.account_created'), types.join());
  });

  test('an unverified email is kept unverified', async () => {
    op.accounts.set('dave', { email: uniqueEmail(), emailVerified: false });
    const agent = new CookieAgent();
    assert.equal((await signInWithOp(agent, 'dave')).fragment.get('tokenstile_signed_in'), 'op');
    assert.equal((await me(agent)).json.emailVerified, false);
  });

  test('the provider\'s own amr values that RFC 8176 defines are kept after fed; others are dropped', async (tt) => {
    tt.after(() => fake.forge(null));
    fake.forge({ claims: (c) => ({ ...c, amr: ['mfa', 'hwk', 'made-up', 'fed'] }) });
    const agent = new CookieAgent();
    await signInWithFake(agent, `amr-${randomBytes(3).toString('hex')}`);
    const access = agent.cookie(host, accessCookie)!;
    if (!access.startsWith('tsa_')) assert.deepEqual(claimsOf(access).amr, ['fed', 'mfa', 'hwk']);
    const session = JSON.parse((await agent.request(`${base}/auth/oauth/session`)).body);
    assert.ok(session.session.id);
  });

  test('the provider list is public and carries no secret', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/oauth/providers' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().providers.map((p: { id: string; name: string }) => [p.id, p.name]), [['op', 'Acme SSO'], ['fake', 'fake'], ['github', 'GitHub']]);
    assert.ok(!res.body.includes(op.clientSecret) && !res.body.includes(github.clientSecret));
  });
});

describe('refused attacks', () => {
  test('ID tokens with a wrong nonce, a wrong aud or a bad signature start no session', async (tt) => {
    tt.after(() => fake.forge(null));
    const forgeries = {
      'wrong nonce': { claims: (c: Record<string, unknown>) => ({ ...c, nonce: 'attacker-nonce' }) },
      'wrong aud': { claims: (c: Record<string, unknown>) => ({ ...c, aud: 'another-client' }) },
      'bad signature': { rogueKey: true },
    };
    for (const [why, forgery] of Object.entries(forgeries)) {
      fake.forge(forgery);
      const agent = new CookieAgent();
      const { fragment } = await signInWithFake(agent, `victim-${randomBytes(3).toString('hex')}`);
      assert.equal(fragment.get('tokenstile_error'), 'oauth_provider_error', why);
      assert.equal(agent.cookie(host, accessCookie), undefined, `${why}: no session cookie`);
    }
    fake.forge(null);
    const agent = new CookieAgent();
    assert.equal((await signInWithFake(agent, `honest-${randomBytes(3).toString('hex')}`)).fragment.get('tokenstile_signed_in'), 'fake', 'the honest token passes');
  });

  test('a state mismatch is refused, and the flow cannot be retried', async () => {
    const agent = new CookieAgent();
    const first = await agent.request(`${base}/auth/oauth/fake?returnTo=/account`);
    const authorize = await agent.request(first.location!);
    const callback = new URL(authorize.location!);
    callback.searchParams.set('state', 'forged-state');
    const res = await agent.request(callback.href);
    assert.equal(res.status, 302);
    assert.equal(outcome(res).fragment.get('tokenstile_error'), 'oauth_flow_invalid');
    assert.equal(agent.cookie(host, accessCookie), undefined);
    // The flow record was spent by that attempt: the right state no longer helps.
    agent.setCookie(host, flowCookie, new URLSearchParams(first.headers.getSetCookie()[0]!.split(';')[0]).get(flowCookie)!);
    const retry = await agent.request(authorize.location!);
    assert.equal(retry.status, 400);
    assert.equal(JSON.parse(retry.body).code, 'oauth_flow_invalid');
  });

  test('a callback in a browser that did not start the flow (login CSRF) is refused', async () => {
    const attacker = new CookieAgent();
    const first = await attacker.request(`${base}/auth/oauth/fake?returnTo=/account`);
    const authorize = await attacker.request(first.location!);
    const victim = new CookieAgent();
    const res = await victim.request(authorize.location!);
    assert.equal(res.status, 400);
    assert.equal(problemOf({ headers: Object.fromEntries(res.headers), json: () => JSON.parse(res.body) } as never).code, 'oauth_flow_invalid');
    assert.equal(victim.cookie(host, accessCookie), undefined);
  });

  test('open redirects are refused at the start', async () => {
    for (const returnTo of ['https://evil.example/', '//evil.example', '/\\evil.example', 'javascript:alert(1)']) {
      const res = await t.app.inject({ method: 'GET', url: `/auth/oauth/op?${new URLSearchParams({ returnTo })}` });
      assert.equal(res.statusCode, 400, returnTo);
      assert.equal(res.json().code, 'invalid_request');
      assert.equal(res.json().field, 'returnTo');
      assert.equal(res.headers.location, undefined);
    }
  });

  test('an unknown provider is a 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/oauth/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'unknown_provider');
  });
});

describe('back-channel logout', () => {
  // Logout tokens are checked against the app's clock (a ManualClock, still at the time the app was
  // made); the provider signs them at the real time. On a busy machine the two drift apart.
  beforeEach(() => t.clock.set(Date.now()));
  const post = (provider: string, token: string) =>
    t.app.inject({ method: 'POST', url: `/auth/oauth/${provider}/backchannel-logout`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ logout_token: token }).toString() });

  test('logging out at oidc-provider ends the Tokenstile session it started', async () => {
    op.accounts.set('erin', { email: uniqueEmail(), emailVerified: true });
    const agent = new CookieAgent();
    await signInWithOp(agent, 'erin');
    assert.equal((await me(agent)).status, 200);
    // RP-initiated logout at the provider, confirmed on its page: it then calls our back-channel URI.
    const page = await agent.follow(`${op.issuer}/session/end?client_id=${op.clientId}`, atApp);
    await agent.completeProviderPages(page, 'erin', op.issuer).catch(() => null);
    assert.ok(agent.visited.some((u) => u.startsWith(`${op.issuer}/session/end/confirm`)), 'the logout was confirmed at the provider');
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      status = (await me(agent)).status;
      if (status === 200) await new Promise((r) => setImmediate(r));
    }
    assert.equal(op.backchannelErrors.length, 0, op.backchannelErrors[0]?.message);
    assert.equal(status, 401);
  });

  test('a logout token is refused when replayed, with a nonce, without events, or from another provider\'s key', async () => {
    const { SignJWT, importJWK } = await import('jose');
    const key = await importJWK(op.privateJwk, 'RS256');
    const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: op.privateJwk.kid, typ: 'logout+jwt' }).sign(key);
    op.accounts.set('frank', { email: uniqueEmail(), emailVerified: true });
    const agent = new CookieAgent();
    await signInWithOp(agent, 'frank');
    const now = Math.floor(Date.now() / 1000);
    const good = { iss: op.issuer, aud: op.clientId, iat: now, exp: now + 120, sub: 'frank', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } };
    for (const [why, claims] of [
      ['nonce', { ...good, jti: randomBytes(8).toString('hex'), nonce: 'n' }],
      ['no events', { ...good, jti: randomBytes(8).toString('hex'), events: undefined }],
      ['wrong aud', { ...good, jti: randomBytes(8).toString('hex'), aud: 'other' }],
    ] as const) {
      const res = await post('op', await sign(Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined))));
      assert.equal(res.statusCode, 400, why);
      assert.equal(res.json().code, 'invalid_logout_token', why);
    }
    const forged = await fake.sign({ ...good, iss: op.issuer, jti: 'x' });
    assert.equal((await post('op', forged)).statusCode, 400, 'signed by a key not in the provider\'s set');
    assert.equal((await me(agent)).status, 200, 'nothing ended so far');
    const token = await sign({ ...good, jti: randomBytes(8).toString('hex') });
    const first = await post('op', token);
    assert.equal(first.statusCode, 200, first.body);
    assert.equal((await me(agent)).status, 401, 'the sub-only token ended the user\'s session');
    const replay = await post('op', token);
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().code, 'invalid_logout_token');
  });
});

describe('accounts: linking and unlinking', () => {
  test('a provider email that has an account is never linked silently (verified or not): link_required', async () => {
    for (const verified of [true, false]) {
      const email = uniqueEmail();
      await t.signUp(email);
      const login = `grace-${verified}`;
      op.accounts.set(login, { email, emailVerified: verified });
      const agent = new CookieAgent();
      const { fragment } = await signInWithOp(agent, login);
      assert.equal(fragment.get('tokenstile_error'), 'link_required');
      assert.equal(agent.cookie(host, accessCookie), undefined);
    }
  });

  test('a signed-in user links a provider, lists it, signs in with it, and unlinks it', async () => {
    const email = uniqueEmail();
    const tokens = await t.signUp(email);
    op.accounts.set('heidi', { email, emailVerified: true });
    const agent = new CookieAgent();
    const link = await agent.request(`${base}/auth/oauth/op/link`, { method: 'POST', headers: { authorization: `Bearer ${tokens.accessToken}`, 'content-type': 'application/json' } });
    assert.equal(link.status, 200, link.body);
    assert.ok(agent.cookie(host, flowCookie));
    const page = await agent.follow(JSON.parse(link.body).url, atApp);
    const back = await agent.completeProviderPages(page, 'heidi', op.issuer);
    const { fragment } = outcome(await agent.follow(back, atApp));
    assert.equal(fragment.get('tokenstile_linked'), 'op');
    assert.equal(agent.cookie(host, accessCookie), undefined, 'linking starts no new session');
    const list = await t.app.inject({ method: 'GET', url: '/auth/identities', headers: { authorization: `Bearer ${tokens.accessToken}` } });
    assert.equal(list.statusCode, 200);
    const [identity] = list.json().identities;
    assert.deepEqual([identity.provider, identity.providerName, identity.email, identity.emailVerified], ['op', 'Acme SSO', email, true]);
    const other = new CookieAgent();
    await signInWithOp(other, 'heidi');
    assert.equal((await me(other)).json.id, tokens.user.id, 'the linked identity signs in to the same account');
    const gone = await t.app.inject({ method: 'DELETE', url: `/auth/identities/${identity.id}`, headers: { authorization: `Bearer ${tokens.accessToken}` } });
    assert.equal(gone.statusCode, 204);
    const again = await t.app.inject({ method: 'DELETE', url: `/auth/identities/${identity.id}`, headers: { authorization: `Bearer ${tokens.accessToken}` } });
    assert.equal(again.statusCode, 404);
  });

  test('an identity linked to one account cannot be linked to another: identity_in_use', async () => {
    op.accounts.set('ivan', { email: uniqueEmail(), emailVerified: true });
    await signInWithOp(new CookieAgent(), 'ivan');
    const tokens = await t.signUp();
    const agent = new CookieAgent();
    const link = await agent.request(`${base}/auth/oauth/op/link`, { method: 'POST', headers: { authorization: `Bearer ${tokens.accessToken}` } });
    const page = await agent.follow(JSON.parse(link.body).url, atApp);
    const back = page.stoppedAt ?? (await agent.completeProviderPages(page, 'ivan', op.issuer));
    assert.equal(outcome(await agent.follow(back, atApp)).fragment.get('tokenstile_error'), 'identity_in_use');
  });

  test('the last way to sign in cannot be unlinked', async () => {
    op.accounts.set('judy', { email: uniqueEmail(), emailVerified: true });
    const agent = new CookieAgent();
    await signInWithOp(agent, 'judy');
    const session = JSON.parse((await agent.request(`${base}/auth/oauth/session`)).body);
    const list = JSON.parse((await agent.request(`${base}/auth/identities`)).body);
    const res = await agent.request(`${base}/auth/identities/${list.identities[0].id}`, { method: 'DELETE', headers: { 'x-csrf-token': session.csrfToken, origin: base } });
    assert.equal(res.status, 409);
    assert.equal(JSON.parse(res.body).code, 'last_sign_in_method');
  });
});

describe('GitHub preset and header clients', () => {
  test('GitHub: the account gets the primary email, verified as GitHub says', async () => {
    const email = uniqueEmail();
    github.users.set('octo', { id: 583231, name: 'Octo Cat', emails: [{ email, primary: true, verified: true }] });
    const agent = new CookieAgent();
    const first = await agent.request(`${base}/auth/oauth/github?returnTo=/account`);
    const url = new URL(first.location!);
    assert.ok(url.href.startsWith(`${github.serverUrl}/login/oauth/authorize`));
    url.searchParams.set('login_hint', 'octo');
    assert.equal(outcome(await agent.follow(url.href, atApp)).fragment.get('tokenstile_signed_in'), 'github');
    const who = await me(agent);
    assert.deepEqual([who.json.email, who.json.name, who.json.emailVerified], [email, 'Octo Cat', true]);
  });

  test('mode=code: a single-use code, exchanged with its PKCE verifier for a token response', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const agent = new CookieAgent();
    const { fragment } = await signInWithFake(agent, `kim-${randomBytes(3).toString('hex')}`, `mode=code&returnTo=/account&codeChallenge=${challenge}`);
    const code = fragment.get('tokenstile_code');
    assert.ok(code, 'a code in the fragment');
    assert.equal(agent.cookie(host, accessCookie), undefined, 'no cookies in code mode');
    const exchange = (payload: unknown) => t.app.inject({ method: 'POST', url: '/auth/oauth/token', payload: payload as object });
    const bad = await signInWithFake(new CookieAgent(), 'kim2', `mode=code&returnTo=/account&codeChallenge=${challenge}`);
    const wrong = await exchange({ code: bad.fragment.get('tokenstile_code'), codeVerifier: randomBytes(32).toString('base64url') });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().code, 'invalid_code');
    const res = await exchange({ code, codeVerifier: verifier });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().tokenType, 'Bearer');
    assert.ok(res.json().refreshToken);
    const replay = await exchange({ code, codeVerifier: verifier });
    assert.equal(replay.statusCode, 401);
    assert.equal(replay.json().code, 'invalid_code');
  });

  test('bad exchange input is a 400 naming the field', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/oauth/token', payload: { code: 'x', extra: 1 } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'invalid_request');
  });
});

test('a flow older than its 10 minutes is refused at the callback (the clock is moved on; last, since it moves the app\'s clock)', async () => {
  const agent = new CookieAgent();
  const first = await agent.request(`${base}/auth/oauth/fake?returnTo=/account`);
  const authorize = await agent.request(first.location!);
  t.clock.advance(10 * 60_000 + 1);
  const res = await agent.request(authorize.location!);
  assert.equal(res.status, 400);
  assert.equal(JSON.parse(res.body).code, 'oauth_flow_invalid');
  assert.equal(agent.cookie(host, accessCookie), undefined);
});

test('a password-account user signs in with their password as before (no gate from this feature)', async () => {
  const email = uniqueEmail();
  await t.signUp(email);
  const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
  assert.equal(res.statusCode, 200);
});
