import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { flowSecrets, ProviderClient, ProviderError } from '../../../src/features/social/provider-client.ts';
import { parseProviders } from '../../../src/features/social/provider-options.ts';
import { CookieAgent } from './cookie-agent.ts';
import { startFakeGitHub, startFakeOidcProvider, type FakeGitHub, type FakeOidcProvider } from './fake-providers.ts';
import { startOidcProvider, type OidcProviderHarness } from './oidc-provider-harness.ts';

// No Tokenstile here: the provider client alone, against a real OpenID Provider and our fakes.
const base = 'http://127.0.0.1:9';
let op: OidcProviderHarness;
let fake: FakeOidcProvider;
let github: FakeGitHub;

before(async () => {
  [op, fake, github] = await Promise.all([startOidcProvider({ tokenstileBase: base, providerId: 'op' }), startFakeOidcProvider(), startFakeGitHub()]);
  op.accounts.set('alice', { email: 'alice@example.com', emailVerified: true, name: 'Alice' });
});
after(() => Promise.all([op.close(), fake.close(), github.close()]));

function client(entry: Record<string, unknown>): ProviderClient {
  return new ProviderClient(parseProviders([entry as never])[0]!);
}

/** A new flow's secrets (derived from a fresh flow token, as the feature does) and its authorization URL. */
async function start(p: ProviderClient, redirect: string) {
  const secrets = flowSecrets(`tso_${randomBytes(32).toString('base64url')}`, p.config.kind);
  return { url: await p.authorizationUrl(redirect, secrets), secrets };
}

/** Runs the authorization request to the point where the browser comes back; returns the callback query. */
async function authorize(url: URL, login?: string): Promise<URLSearchParams> {
  const agent = new CookieAgent();
  if (login !== undefined) url.searchParams.set('login_hint', login);
  const res = await agent.follow(url.href, (u) => u.startsWith(base));
  const back = res.stoppedAt ?? (await agent.completeProviderPages(res, login ?? 'alice', url.origin));
  return new URL(back).searchParams;
}

test('oidc-provider: discovery, PKCE, state and nonce; the profile carries the verified email and the provider session id', async () => {
  const p = client({ id: 'op', issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret });
  const redirect = `${base}/auth/oauth/op/callback`;
  const { url, secrets } = await start(p, redirect);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(url.searchParams.get('nonce'), secrets.nonce);
  assert.equal(url.searchParams.get('state'), secrets.state);
  const profile = await p.finish(await authorize(url), redirect, secrets);
  assert.equal(profile.subject, 'alice');
  assert.equal(profile.email, 'alice@example.com');
  assert.equal(profile.emailVerified, true);
  assert.equal(profile.name, 'Alice');
  assert.ok(profile.sid !== null && profile.sid.length > 10);
});

test('a state that is not the flow\'s is refused', async () => {
  const p = client({ id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret });
  const redirect = `${base}/cb`;
  const { url, secrets } = await start(p, redirect);
  await assert.rejects(p.finish(await authorize(url), redirect, { ...secrets, state: 'another-state' }), ProviderError);
});

test('forged ID tokens are refused: wrong nonce, wrong aud, wrong iss, expired, signed by another key, no nonce, an azp not ours', async (t) => {
  const p = client({ id: 'fake', issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret });
  const redirect = `${base}/cb`;
  t.after(() => fake.forge(null));
  const forgeries = {
    'wrong nonce': { claims: (c: Record<string, unknown>) => ({ ...c, nonce: 'not-the-one' }) },
    'no nonce': { claims: (c: Record<string, unknown>) => ({ ...c, nonce: undefined }) },
    'wrong aud': { claims: (c: Record<string, unknown>) => ({ ...c, aud: 'another-client' }) },
    'wrong iss': { claims: (c: Record<string, unknown>) => ({ ...c, iss: 'http://127.0.0.1:1' }) },
    expired: { claims: (c: Record<string, unknown>) => ({ ...c, iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) - 1800 }) },
    'bad signature': { rogueKey: true },
    'several audiences and no azp': { claims: (c: Record<string, unknown>) => ({ ...c, aud: [fake.clientId, 'another-client'] }) },
    'several audiences, azp another client': { claims: (c: Record<string, unknown>) => ({ ...c, aud: [fake.clientId, 'another-client'], azp: 'another-client' }) },
    'our aud alone but azp another client': { claims: (c: Record<string, unknown>) => ({ ...c, azp: 'another-client' }) },
  };
  for (const [why, forgery] of Object.entries(forgeries)) {
    fake.forge(forgery);
    const { url, secrets } = await start(p, redirect);
    await assert.rejects(p.finish(await authorize(url), redirect, secrets), ProviderError, why);
  }
  fake.forge(null);
  const { url, secrets } = await start(p, redirect);
  assert.equal((await p.finish(await authorize(url), redirect, secrets)).subject, 'alice', 'the same flow with an honest token passes');
  fake.forge({ claims: (c) => ({ ...c, aud: [fake.clientId, 'another-client'], azp: fake.clientId }) });
  const several = await start(p, redirect);
  assert.equal((await p.finish(await authorize(several.url), redirect, several.secrets)).subject, 'alice', 'several audiences pass when azp is us');
});

test('flow secrets are derived from the flow token: the same token gives the same ones, another token others; a valid PKCE verifier', () => {
  const token = `tso_${randomBytes(32).toString('base64url')}`;
  const a = flowSecrets(token, 'oidc');
  assert.deepEqual(flowSecrets(token, 'oidc'), a);
  assert.equal(new Set([a.state, a.nonce, a.codeVerifier]).size, 3, 'three different values');
  assert.match(a.codeVerifier, /^[A-Za-z0-9_-]{43}$/, 'RFC 7636: 43 unreserved characters');
  assert.ok(![a.state, a.nonce, a.codeVerifier].some((v) => v !== null && token.includes(v)));
  const b = flowSecrets(`tso_${randomBytes(32).toString('base64url')}`, 'oidc');
  assert.notEqual(b.state, a.state);
  assert.notEqual(b.codeVerifier, a.codeVerifier);
  assert.equal(flowSecrets(token, 'github').nonce, null, 'no nonce for plain OAuth 2.0');
});

test('GitHub preset: the user id as subject, the primary email verified only when GitHub says so', async () => {
  github.users.set('octo', { id: 583231, name: 'The Octocat', emails: [{ email: 'octo@example.com', primary: true, verified: true }] });
  github.users.set('newbie', { id: 99, name: null, emails: [{ email: 'other@example.com', primary: false, verified: true }, { email: 'newbie@example.com', primary: true, verified: false }] });
  const p = client({ id: 'github', preset: 'github', serverUrl: github.serverUrl, clientId: github.clientId, clientSecret: github.clientSecret });
  const redirect = `${base}/auth/oauth/github/callback`;
  const first = await start(p, redirect);
  assert.equal(first.secrets.nonce, null);
  const octo = await p.finish(await authorize(first.url, 'octo'), redirect, first.secrets);
  assert.deepEqual({ ...octo }, { subject: '583231', email: 'octo@example.com', emailVerified: true, name: 'The Octocat', sid: null, amr: [] });
  const second = await start(p, redirect);
  const newbie = await p.finish(await authorize(second.url, 'newbie'), redirect, second.secrets);
  assert.equal(newbie.email, 'newbie@example.com');
  assert.equal(newbie.emailVerified, false);
});

test('a provider that cannot be reached fails as ProviderError, and discovery is tried again next time', async () => {
  const p = client({ id: 'gone', issuer: 'http://127.0.0.1:9', clientId: 'c', clientSecret: 's' });
  await assert.rejects(start(p, `${base}/cb`), ProviderError);
  await assert.rejects(start(p, `${base}/cb`), ProviderError);
});
