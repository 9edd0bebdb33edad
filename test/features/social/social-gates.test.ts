// Provider sign-in passes the sign-in gates (second factor, verified email) as a password does:
// the browser flow carries mfa_required to the page, the header clients' exchange answers it
// 403, and the second step finishes the sign-in with amr fed+otp+mfa. Over plain HTTP, against a
// listening Tokenstile (any adapter, any backend) and the fake OpenID provider.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { testApp, uniqueEmail, type TestApp, type TokenBody } from '../../helpers.ts';
import { expectProblem } from '../../http/problem-assertions.ts';
import { freePort } from '../../scale/harness.ts';
import { claimsOf, del, enrolTotp, expectEnded, expectLive, get, nextStep, post } from '../mfa/mfa-test-kit.ts';
import { SoftAuthenticator } from '../passkeys/soft-authenticator.ts';
import { totpCode } from '../mfa/totp-code.ts';
import { CookieAgent } from './cookie-agent.ts';
import { startFakeOidcProvider, type FakeOidcProvider } from './fake-providers.ts';

const accessCookie = '__Host-tokenstile-access';
let base: string;
let host: string;
let fake: FakeOidcProvider;
let t: TestApp;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  host = `127.0.0.1:${port}`;
  fake = await startFakeOidcProvider();
  t = await testApp({
    issuer: base,
    recovery: { requireVerifiedEmail: true },
    oauthProviders: [{ id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret }],
  });
  await t.app.listen({ host: '127.0.0.1', port });
});
after(async () => {
  await t?.close();
  await fake?.close();
});
// ID tokens are signed at the real time; TOTP steps move the app's clock: start each test at now.
beforeEach(() => t.clock.set(Date.now()));

const atApp = (u: string) => u.startsWith(base) && !new URL(u).pathname.startsWith('/auth/oauth/');

/** A browser flow with the fake provider as `login`: the fragment it ended with, and the agent. */
async function browserSignIn(login: string, query = 'returnTo=/account') {
  const agent = new CookieAgent();
  const first = await agent.request(`${base}/auth/oauth/fake?${query}`);
  assert.equal(first.status, 302, first.body);
  const url = new URL(first.location!);
  url.searchParams.set('login_hint', login);
  const end = await agent.follow(url.href, atApp);
  const at = new URL(end.stoppedAt ?? end.location ?? end.url);
  return { agent, fragment: new URLSearchParams(at.hash.slice(1)) };
}

/** A header client's flow and exchange: the exchange's answer. */
async function codeSignIn(login: string) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const { fragment } = await browserSignIn(login, `mode=code&returnTo=/account&codeChallenge=${challenge}`);
  const code = fragment.get('tokenstile_code');
  assert.ok(code, 'a code in the fragment');
  return post(t, '/auth/oauth/token', { code, codeVerifier: verifier });
}

/** A provider account whose Tokenstile account (made by its first sign-in) has TOTP on. */
async function userWithTotp(): Promise<{ login: string; secret: string }> {
  const login = `gate-${randomBytes(4).toString('hex')}`;
  const first = await codeSignIn(login);
  assert.equal(first.statusCode, 200, first.body);
  const { secret } = await enrolTotp(t, first.json() as TokenBody);
  return { login, secret };
}

function verifyTotp(mfaToken: string, secret: string) {
  nextStep(t);
  return post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) });
}

describe('provider sign-in and the sign-in gates', () => {
  test('browser flow: a user with TOTP gets no session but mfa_required in the fragment; the second step finishes it, amr fed+otp+mfa', async () => {
    const { login, secret } = await userWithTotp();
    const { agent, fragment } = await browserSignIn(login);
    assert.equal(fragment.get('tokenstile_error'), 'mfa_required');
    assert.equal(fragment.get('tokenstile_signed_in'), null);
    assert.equal(agent.cookie(host, accessCookie), undefined, 'no session before the second factor');
    const mfaToken = fragment.get('tokenstile_mfa_token');
    assert.match(mfaToken ?? '', /^tsm_[\w-]{43}$/);
    assert.deepEqual(fragment.get('tokenstile_mfa_methods')?.split(' '), ['totp', 'recovery_code']);
    const done = await verifyTotp(mfaToken!, secret);
    assert.equal(done.statusCode, 200, done.body);
    const claims = claimsOf(done.json().accessToken);
    if (claims) assert.deepEqual(claims.amr, ['fed', 'otp', 'mfa']);
  });

  test('header clients: the code exchange answers 403 mfa_required as login does; the second step gives the tokens', async () => {
    const { login, secret } = await userWithTotp();
    const body = expectProblem(await codeSignIn(login), 403, 'mfa_required') as unknown as { mfaToken: string; methods: string[] };
    assert.deepEqual(body.methods, ['totp', 'recovery_code']);
    const done = await verifyTotp(body.mfaToken, secret);
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().tokenType, 'Bearer');
  });

  test('the session the second step starts keeps its provider origin: back-channel logout ends it, and the sign-in is audited', async () => {
    const { login, secret } = await userWithTotp();
    const body = expectProblem(await codeSignIn(login), 403, 'mfa_required') as unknown as { mfaToken: string };
    const done = await verifyTotp(body.mfaToken, secret);
    assert.equal(done.statusCode, 200, done.body);
    const s = done.json() as TokenBody;
    await expectLive(t, s.accessToken);
    // The ID token's sid is `sid-<login>`; logout tokens are checked against the app's clock (moved on by the TOTP step).
    const now = Math.floor(t.clock.now() / 1000);
    const token = await fake.sign(
      { iss: fake.issuer, aud: fake.clientId, iat: now, exp: now + 120, jti: randomBytes(8).toString('hex'), sub: login, sid: `sid-${login}`, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } },
      { typ: 'logout+jwt' },
    );
    const res = await t.app.inject({ method: 'POST', url: '/auth/oauth/fake/backchannel-logout', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ logout_token: token }).toString() });
    assert.equal(res.statusCode, 200, res.body);
    await expectEnded(t, s.accessToken);
    // Audited like a sign-in no gate held (written in the background: a bounded poll).
    for (let i = 0; ; i++) {
      const entries = await t.app.tokenstile.audit({ userId: s.user.id, limit: 100 });
      const signedIn = entries.find((e) => e.type === 'social.signed_in' && e.sessionId === s.session.id);
      if (signedIn) {
        assert.equal(signedIn.detail.provider, 'fake');
        break;
      }
      if (i >= 200) assert.fail(`no social.signed_in for the session; got ${entries.map((e) => `${e.type}:${e.sessionId}`).join(', ')}`);
      await new Promise((resolve) => setImmediate(resolve));
      if (i > 50) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  test("the provider's own amr (mfa, otp) does not stand in for this account's second factor", async () => {
    const { login } = await userWithTotp();
    fake.forge({ claims: (c) => ({ ...c, amr: ['mfa', 'otp', 'pwd'] }) });
    try {
      const { fragment } = await browserSignIn(login);
      assert.equal(fragment.get('tokenstile_error'), 'mfa_required');
    } finally {
      fake.forge(null);
    }
  });

  test('with requireVerifiedEmail, an account made from an unverified provider email gets no session: email_not_verified', async () => {
    const login = `unverified-${randomBytes(4).toString('hex')}`;
    fake.accounts.set(login, { email: uniqueEmail(), emailVerified: false });
    const { agent, fragment } = await browserSignIn(login);
    assert.equal(fragment.get('tokenstile_error'), 'email_not_verified');
    assert.equal(fragment.get('tokenstile_mfa_token'), null);
    assert.equal(agent.cookie(host, accessCookie), undefined);
    expectProblem(await codeSignIn(login), 403, 'email_not_verified');
  });

  test('a user without a second factor signs in at once (amr fed)', async () => {
    const { agent, fragment } = await browserSignIn(`plain-${randomBytes(4).toString('hex')}`);
    assert.equal(fragment.get('tokenstile_signed_in'), 'fake');
    assert.ok(agent.cookie(host, accessCookie));
  });
});

describe('counting the ways to sign in: passkeys count', () => {
  test('an account made by a provider keeps its last way in: its only identity, then its only passkey', async () => {
    const r = await codeSignIn(`last-${randomBytes(4).toString('hex')}`);
    assert.equal(r.statusCode, 200, r.body);
    const s = r.json() as TokenBody;
    const [identity] = (await get(t, '/auth/identities', s.accessToken)).json().identities as { id: string }[];
    expectProblem(await del(t, `/auth/identities/${identity!.id}`, s.accessToken), 409, 'last_sign_in_method');
    const device = new SoftAuthenticator(base);
    const options = await post(t, '/auth/passkeys/register/options', {}, s.accessToken);
    assert.equal(options.statusCode, 200, options.body);
    const added = await post(t, '/auth/passkeys/register', { credential: device.register(options.json()) }, s.accessToken);
    assert.equal(added.statusCode, 201, added.body);
    // A passkey is a way to sign in: the identity may go now.
    assert.equal((await del(t, `/auth/identities/${identity!.id}`, s.accessToken)).statusCode, 204);
    // And the passkey is now the last way: it stays.
    expectProblem(await del(t, `/auth/passkeys/${added.json().passkey.id}`, s.accessToken), 409, 'last_sign_in_method');
    assert.equal((await get(t, '/auth/passkeys', s.accessToken)).json().passkeys.length, 1);
  });
});

describe('an account without a password: change of email and re-authentication', () => {
  /** Starts a re-authentication of `s` through the fake provider and signs in there as `login`: the fragment it ends with. */
  async function reauthenticate(s: TokenBody, login: string) {
    const agent = new CookieAgent();
    const started = await agent.request(`${base}/auth/oauth/fake/reauthenticate`, { method: 'POST', headers: { authorization: `Bearer ${s.accessToken}` } });
    assert.equal(started.status, 200, started.body);
    const url = new URL(JSON.parse(started.body).url);
    assert.equal(url.searchParams.get('prompt'), 'login', 'the provider is asked for a fresh sign-in');
    url.searchParams.set('login_hint', login);
    const end = await agent.follow(url.href, atApp);
    return new URLSearchParams(new URL(end.stoppedAt ?? end.location ?? end.url).hash.slice(1));
  }

  test('no password to give: a recent sign-in is enough; later, a re-authentication through the linked provider is', async () => {
    const login = `nopw-${randomBytes(4).toString('hex')}`;
    const r = await codeSignIn(login);
    assert.equal(r.statusCode, 200, r.body);
    const s = r.json() as TokenBody;
    assert.equal((await post(t, '/auth/email/change', { newEmail: uniqueEmail() }, s.accessToken)).statusCode, 202);
    t.clock.advance(6 * 60_000);
    expectProblem(await post(t, '/auth/email/change', { newEmail: uniqueEmail() }, s.accessToken), 403, 'reauthentication_required');
    // Another provider account, not linked to this user, proves nothing.
    assert.equal((await reauthenticate(s, `stranger-${randomBytes(4).toString('hex')}`)).get('tokenstile_error'), 'reauthentication_required');
    expectProblem(await post(t, '/auth/email/change', { newEmail: uniqueEmail() }, s.accessToken), 403, 'reauthentication_required');
    assert.equal((await reauthenticate(s, login)).get('tokenstile_reauthenticated'), 'fake');
    assert.equal((await post(t, '/auth/email/change', { newEmail: uniqueEmail() }, s.accessToken)).statusCode, 202);
  });
});
