import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../mfa/totp-code.ts';
import { issuer, testApp, uniqueEmail, type TestApp, type TokenBody } from '../../helpers.ts';
import { expectProblem } from '../../http/problem-assertions.ts';
import { auditWith, claimsOf, del, enrolTotp, expectEnded, expectLive, get, login, mfaRequired, nextStep, post } from '../mfa/mfa-test-kit.ts';
import { SoftAuthenticator } from './soft-authenticator.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

/** Registers a passkey on `device` for the signed-in user; answers the created passkey. */
async function register(s: TokenBody, device: SoftAuthenticator, name?: string) {
  const options = await post(t, '/auth/passkeys/register/options', {}, s.accessToken);
  assert.equal(options.statusCode, 200, options.body);
  assert.equal(options.json().rp.id, new URL(issuer).hostname);
  const r = await post(t, '/auth/passkeys/register', { credential: device.register(options.json()), ...(name && { name }) }, s.accessToken);
  assert.equal(r.statusCode, 201, r.body);
  return r.json().passkey as { id: string; name: string };
}

async function passkeyLogin(device: SoftAuthenticator, forge = {}) {
  const options = await post(t, '/auth/passkeys/login/options', {});
  assert.equal(options.statusCode, 200, options.body);
  return post(t, '/auth/passkeys/login', { credential: device.authenticate(options.json(), forge) });
}

describe('passkeys', () => {
  test('register (the other sessions end), list, and sign in without a password: amr hwk+user', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    const other = (await login(t, email)).json();
    const device = new SoftAuthenticator(issuer);
    const passkey = await register(s, device, '  My laptop\u0007 ');
    assert.equal(passkey.name, 'My laptop');
    await expectEnded(t, other.accessToken);
    await expectLive(t, s.accessToken);
    const list = (await get(t, '/auth/passkeys', s.accessToken)).json();
    assert.deepEqual(list.passkeys.map((p: { id: string }) => p.id), [passkey.id]);
    const renamed = await t.app.inject({ method: 'PATCH', url: `/auth/passkeys/${passkey.id}`, payload: { name: 'Work laptop' }, headers: { authorization: `Bearer ${s.accessToken}` } });
    assert.equal(renamed.json().passkey.name, 'Work laptop');
    const tooLong = await t.app.inject({ method: 'PATCH', url: `/auth/passkeys/${passkey.id}`, payload: { name: 'x'.repeat(65) }, headers: { authorization: `Bearer ${s.accessToken}` } });
    expectProblem(tooLong, 400, 'invalid_request');
    expectProblem(await t.app.inject({ method: 'PATCH', url: '/auth/passkeys/nope', payload: { name: 'x' }, headers: { authorization: `Bearer ${s.accessToken}` } }), 404, 'not_found');
    const signedIn = await passkeyLogin(device);
    assert.equal(signedIn.statusCode, 200, signedIn.body);
    assert.equal(signedIn.json().user.email, email);
    const claims = claimsOf(signedIn.json().accessToken);
    if (claims) assert.deepEqual(claims.amr, ['hwk', 'user']);
    assert.ok((await get(t, '/auth/passkeys', s.accessToken)).json().passkeys[0].lastUsedAt !== null);
    await auditWith(t, s.user.id, ['passkeys.added', 'passkeys.login']);
  });

  test('refused: a spent challenge (replayed assertion), another origin, a forged signature, an unknown credential', async () => {
    const s = await t.signUp();
    const device = new SoftAuthenticator(issuer);
    await register(s, device);
    const options = (await post(t, '/auth/passkeys/login/options', {})).json();
    const assertion = device.authenticate(options);
    assert.equal((await post(t, '/auth/passkeys/login', { credential: assertion })).statusCode, 200);
    expectProblem(await post(t, '/auth/passkeys/login', { credential: assertion }), 401, 'invalid_passkey');
    expectProblem(await passkeyLogin(device, { origin: 'http://evil.example' }), 401, 'invalid_passkey');
    expectProblem(await passkeyLogin(device, { wrongKey: true }), 401, 'invalid_passkey');
    expectProblem(await passkeyLogin(device, { signCount: 1 }), 401, 'invalid_passkey'); // a counter that went back: a cloned authenticator
    const stranger = new SoftAuthenticator(issuer);
    await register(await t.signUp(), stranger);
    stranger.credentials[0]!.signCount = 0;
    const foreign = new SoftAuthenticator(issuer);
    foreign.credentials.push({ ...stranger.credentials[0]!, id: Buffer.from('not-a-stored-credential') });
    expectProblem(await passkeyLogin(foreign), 401, 'invalid_passkey');
    expectProblem(await post(t, '/auth/passkeys/login', { credential: { id: 'x', response: { clientDataJSON: 'e30' } } }), 401, 'invalid_passkey');
  });

  test('a registration answer for another user’s challenge, or a reused one, is refused', async () => {
    const a = await t.signUp();
    const b = await t.signUp();
    const options = (await post(t, '/auth/passkeys/register/options', {}, a.accessToken)).json();
    const credential = new SoftAuthenticator(issuer).register(options);
    expectProblem(await post(t, '/auth/passkeys/register', { credential }, b.accessToken), 401, 'invalid_passkey');
    expectProblem(await post(t, '/auth/passkeys/register', { credential }, a.accessToken), 401, 'invalid_passkey');
  });

  test('a passkey sign-in needs user verification (asked as required); a second step accepts presence alone, amr without user', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    const device = new SoftAuthenticator(issuer);
    await register(s, device);
    const options = (await post(t, '/auth/passkeys/login/options', {})).json();
    assert.equal(options.userVerification, 'required');
    expectProblem(await post(t, '/auth/passkeys/login', { credential: device.authenticate(options, { noUserVerification: true }) }), 401, 'invalid_passkey');
    const { mfaToken } = await mfaRequired(t, email);
    const mfaOptions = (await post(t, '/auth/mfa/passkey/options', { mfaToken })).json();
    assert.equal(mfaOptions.userVerification, 'preferred');
    const r = await post(t, '/auth/mfa/verify', { mfaToken, method: 'passkey', credential: device.authenticate(mfaOptions, { noUserVerification: true }) });
    assert.equal(r.statusCode, 200, r.body);
    const claims = claimsOf(r.json().accessToken);
    if (claims) assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
  });

  test('the user handle must name the passkey’s owner, and a sign-in without one is refused (WebAuthn §7.2 step 6)', async () => {
    const s = await t.signUp();
    const other = await t.signUp();
    const device = new SoftAuthenticator(issuer);
    await register(s, device);
    expectProblem(await passkeyLogin(device, { userHandle: Buffer.from(other.user.id).toString('base64url') }), 401, 'invalid_passkey');
    expectProblem(await passkeyLogin(device, { userHandle: null }), 401, 'invalid_passkey');
    const signedIn = await passkeyLogin(device);
    assert.equal(signedIn.statusCode, 200, signedIn.body);
    assert.equal(signedIn.json().user.id, s.user.id);
  });

  test('a registration answer is bound to the session that asked for the options', async () => {
    const email = uniqueEmail();
    const a = await t.signUp(email);
    const elsewhere = (await login(t, email)).json();
    const options = (await post(t, '/auth/passkeys/register/options', {}, a.accessToken)).json();
    const credential = new SoftAuthenticator(issuer).register(options);
    expectProblem(await post(t, '/auth/passkeys/register', { credential }, elsewhere.accessToken), 401, 'invalid_passkey');
  });

  test('a passkey as the second factor: methods name it, the assertion completes the sign-in', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    const device = new SoftAuthenticator(issuer);
    await register(s, device);
    const { mfaToken, methods } = await mfaRequired(t, email);
    assert.deepEqual(methods, ['passkey']);
    const options = await post(t, '/auth/mfa/passkey/options', { mfaToken });
    assert.equal(options.statusCode, 200, options.body);
    assert.equal(options.json().allowCredentials.length, 1);
    const other = new SoftAuthenticator(issuer);
    await register(await t.signUp(), other);
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken, method: 'passkey', credential: other.authenticate({ ...options.json(), allowCredentials: [] }) }), 401, 'invalid_code');
    const fresh = (await post(t, '/auth/mfa/passkey/options', { mfaToken })).json();
    const r = await post(t, '/auth/mfa/verify', { mfaToken, method: 'passkey', credential: device.authenticate(fresh) });
    assert.equal(r.statusCode, 200, r.body);
    const claims = claimsOf(r.json().accessToken);
    if (claims) assert.deepEqual(claims.amr, ['pwd', 'hwk', 'user', 'mfa']);
  });

  test('removal needs a recent sign-in (a passkey re-authentication does), ends the other sessions; a removed passkey signs in no more', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    const device = new SoftAuthenticator(issuer);
    const passkey = await register(s, device);
    const { secret } = await enrolTotp(t, s);
    nextStep(t);
    const other = (await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) })).json();
    t.clock.advance(6 * 60_000);
    expectProblem(await del(t, `/auth/passkeys/${passkey.id}`, s.accessToken), 403, 'reauthentication_required');
    expectProblem(await post(t, '/auth/passkeys/register/options', {}, s.accessToken), 403, 'reauthentication_required');
    const options = (await post(t, '/auth/reauthenticate/options', {}, s.accessToken)).json();
    assert.equal((await post(t, '/auth/reauthenticate', { method: 'passkey', credential: device.authenticate(options) }, s.accessToken)).statusCode, 200);
    expectProblem(await del(t, '/auth/passkeys/not-a-passkey', s.accessToken), 404, 'not_found');
    assert.equal((await del(t, `/auth/passkeys/${passkey.id}`, s.accessToken)).statusCode, 204);
    await expectEnded(t, other.accessToken);
    await expectLive(t, s.accessToken);
    expectProblem(await passkeyLogin(device), 401, 'invalid_passkey');
    assert.deepEqual((await mfaRequired(t, email)).methods, ['totp', 'recovery_code']);
  });

  test('support reset removes TOTP and passkeys and ends every session', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    await register(s, new SoftAuthenticator(issuer));
    await enrolTotp(t, s);
    const { featureApi } = await import('../../../src/core/feature.ts');
    const { mfaFeature } = await import('../../../src/features/mfa/mfa-feature.ts');
    assert.deepEqual(await featureApi(t.app.tokenstile, mfaFeature).mfa.reset(s.user.id), { totp: true, passkeys: 1 });
    await expectEnded(t, s.accessToken);
    assert.equal((await login(t, email)).statusCode, 200);
    await auditWith(t, s.user.id, ['mfa.reset']);
  });
});

test('passkey sign-in options are limited per client IP (loginPerIp), 429 with Retry-After', async () => {
  const limited = await testApp({ rateLimits: { loginPerIp: { limit: 3, window: '1m' } } });
  try {
    const ask = () => limited.app.inject({ method: 'POST', url: '/auth/passkeys/login/options', payload: {}, remoteAddress: '203.0.113.9' });
    for (let i = 0; i < 3; i++) assert.equal((await ask()).statusCode, 200);
    const refused = await ask();
    expectProblem(refused, 429, 'too_many_requests');
    assert.ok(Number(refused.headers['retry-after']) > 0);
    limited.clock.advance(61_000);
    assert.equal((await ask()).statusCode, 200);
  } finally {
    await limited.close();
  }
});
