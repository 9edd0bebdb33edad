// Every sign-in method binds to the DPoP key of its request: the second factor step, a passkey,
// a sign-in link, and the provider redirect flow (which carries no header, so the key is named at
// its start with dpop_jkt, RFC 9449 §10), in cookie and in code mode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { issuer, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem } from '../http/problem-assertions.ts';
import { freePort } from '../scale/harness.ts';
import { CookieAgent } from '../features/social/cookie-agent.ts';
import { startFakeOidcProvider, type FakeOidcProvider } from '../features/social/fake-providers.ts';
import { startOidcProvider, type OidcProviderHarness } from '../features/social/oidc-provider-harness.ts';
import { enrolTotp, mfaRequired, nextStep, post } from '../features/mfa/mfa-test-kit.ts';
import { totpCode } from '../features/mfa/totp-code.ts';
import { SoftAuthenticator } from '../features/passkeys/soft-authenticator.ts';
import { tokenFromMail } from '../features/recovery/recovery-helpers.ts';
import { proof, proofKey, type ProofKey } from './proof-helpers.ts';

const withProof = async (key: ProofKey, path: string, app: TestApp) => ({ dpop: await proof(key, 'POST', path, app.clock.now()) });

async function meWorks(app: TestApp, token: string, key: ProofKey, base = issuer): Promise<number> {
  const dpop = await proof(key, 'GET', `${base}/auth/me`, app.clock.now(), token);
  return (await app.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `DPoP ${token}`, dpop } })).statusCode;
}

describe('sign-ins on the auth routes', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp({ recovery: { magicLink: true } });
  });
  after(() => t.close());

  /** A user with TOTP whose password step answered mfa_required: the body of the second step. */
  async function secondStep(): Promise<{ mfaToken: string; method: string; code: string }> {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    nextStep(t);
    const { mfaToken } = await mfaRequired(t, email);
    return { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) };
  }

  test('the second-factor step binds the session it starts (the password step had its own proof)', async () => {
    const key = await proofKey();
    const res = await post(t, '/auth/mfa/verify', await secondStep(), undefined, await withProof(key, '/auth/mfa/verify', t));
    assert.equal(res.statusCode, 200, res.body);
    const tokens = res.json() as TokenBody;
    assert.equal(tokens.tokenType, 'DPoP');
    assert.equal(await meWorks(t, tokens.accessToken, key), 200);
  });

  test('a bad proof at the second-factor step is refused before the code is tried', async () => {
    const key = await proofKey();
    const body = await secondStep();
    expectProblem(await post(t, '/auth/mfa/verify', body, undefined, await withProof(key, '/auth/login', t)), 400, 'invalid_dpop_proof');
    // The mfaToken was not spent by the refusal.
    const res = await post(t, '/auth/mfa/verify', body, undefined, await withProof(key, '/auth/mfa/verify', t));
    assert.equal(res.statusCode, 200, res.body);
  });

  test('a passkey sign-in with a proof is bound', async () => {
    const s = await t.signUp();
    const device = new SoftAuthenticator(issuer);
    const options = await post(t, '/auth/passkeys/register/options', {}, s.accessToken);
    assert.equal((await post(t, '/auth/passkeys/register', { credential: device.register(options.json()) }, s.accessToken)).statusCode, 201);
    const key = await proofKey();
    const loginOptions = await post(t, '/auth/passkeys/login/options', {});
    const res = await post(t, '/auth/passkeys/login', { credential: device.authenticate(loginOptions.json()) }, undefined, await withProof(key, '/auth/passkeys/login', t));
    assert.equal(res.statusCode, 200, res.body);
    const tokens = res.json() as TokenBody;
    assert.equal(tokens.tokenType, 'DPoP');
    assert.equal(await meWorks(t, tokens.accessToken, key), 200);
    assert.equal(await meWorks(t, tokens.accessToken, await proofKey()), 401, 'another key is refused');
  });

  test('a sign-in link with a proof is bound', async () => {
    const s = await t.signUp();
    assert.equal((await post(t, '/auth/magic-link', { email: s.user.email })).statusCode, 202);
    const token = await tokenFromMail(t.app.tokenstile, s.user.email, 'magic');
    const key = await proofKey();
    const res = await post(t, '/auth/magic-link/verify', { token }, undefined, await withProof(key, '/auth/magic-link/verify', t));
    assert.equal(res.statusCode, 200, res.body);
    const tokens = res.json() as TokenBody;
    assert.equal(tokens.tokenType, 'DPoP');
    assert.equal(await meWorks(t, tokens.accessToken, key), 200);
  });
});

describe('provider sign-in with dpop_jkt', () => {
  const accessCookie = '__Host-tokenstile-access';
  let base: string;
  let host: string;
  let op: OidcProviderHarness;
  let fake: FakeOidcProvider;
  let t: TestApp;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    host = `127.0.0.1:${port}`;
    [op, fake] = await Promise.all([startOidcProvider({ tokenstileBase: base, providerId: 'op' }), startFakeOidcProvider()]);
    t = await testApp({
      issuer: base,
      oauthProviders: [
        { id: 'op', issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret },
        { id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret },
      ],
    });
    await t.app.listen({ host: '127.0.0.1', port });
  });
  after(async () => {
    await t?.close();
    await Promise.all([op?.close(), fake?.close()]);
  });

  const atApp = (u: string) => u.startsWith(base) && !new URL(u).pathname.startsWith('/auth/oauth/');

  test('cookie mode with oidc-provider: the session is bound to the named key, and each request needs its proof', async () => {
    const key = await proofKey();
    const agent = new CookieAgent();
    const first = await agent.follow(`${base}/auth/oauth/op?returnTo=/account&dpop_jkt=${key.jkt}`, atApp);
    const back = await agent.completeProviderPages(first, `dee-${randomBytes(3).toString('hex')}`, op.issuer);
    const end = await agent.follow(back, atApp);
    const fragment = new URLSearchParams(new URL(end.stoppedAt ?? end.location ?? end.url).hash.slice(1));
    assert.equal(fragment.get('tokenstile_signed_in'), 'op', JSON.stringify([...fragment]));
    const access = agent.cookie(host, accessCookie);
    assert.ok(access, 'the access cookie is set');
    const bare = await agent.request(`${base}/auth/me`);
    assert.equal(bare.status, 401, bare.body);
    assert.equal(JSON.parse(bare.body).code, 'invalid_dpop_proof');
    const proven = await agent.request(`${base}/auth/me`, { headers: { dpop: await proof(key, 'GET', `${base}/auth/me`, t.clock.now(), access) } });
    assert.equal(proven.status, 200, proven.body);
    const other = await agent.request(`${base}/auth/me`, { headers: { dpop: await proof(await proofKey(), 'GET', `${base}/auth/me`, t.clock.now(), access) } });
    assert.equal(other.status, 401);
  });

  test('a malformed dpop_jkt is a 400 naming it', async () => {
    const res = await new CookieAgent().request(`${base}/auth/oauth/fake?returnTo=/account&dpop_jkt=short`);
    assert.equal(res.status, 400, res.body);
    assert.equal(JSON.parse(res.body).field, 'dpop_jkt');
  });

  test('code mode: the exchange must prove possession of the named key, and its tokens are bound', async () => {
    const key = await proofKey();
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const flow = async () => {
      const agent = new CookieAgent();
      const first = await agent.request(`${base}/auth/oauth/fake?mode=code&returnTo=/account&codeChallenge=${challenge}&dpop_jkt=${key.jkt}`);
      assert.equal(first.status, 302, first.body);
      const url = new URL(first.location!);
      url.searchParams.set('login_hint', `kay-${randomBytes(3).toString('hex')}`);
      const end = await agent.follow(url.href, atApp);
      return new URLSearchParams(new URL(end.stoppedAt ?? end.location ?? end.url).hash.slice(1)).get('tokenstile_code')!;
    };
    const exchange = async (code: string, signer: ProofKey | null) =>
      t.app.inject({ method: 'POST', url: '/auth/oauth/token', payload: { code, codeVerifier: verifier }, headers: signer === null ? {} : { dpop: await proof(signer, 'POST', `${base}/auth/oauth/token`, t.clock.now()) } });
    expectProblem(await exchange(await flow(), await proofKey()), 400, 'invalid_dpop_proof');
    expectProblem(await exchange(await flow(), null), 400, 'invalid_dpop_proof');
    const res = await exchange(await flow(), key);
    assert.equal(res.statusCode, 200, res.body);
    const tokens = res.json() as TokenBody;
    assert.equal(tokens.tokenType, 'DPoP');
    assert.equal(await meWorks(t, tokens.accessToken, key, base), 200);
  });
});
