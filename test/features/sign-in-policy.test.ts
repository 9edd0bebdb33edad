// One sign-in policy across the sign-in methods (password, passkey, sign-in link): the gates of
// the recovery and MFA features, and what a successful sign-in does to reset links, over every
// adapter and backend. (Social sign-in's share: test/features/social/social-gates.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { internals } from '../../src/core/core-internals.ts';
import { MemoryRateLimiter } from '../../src/core/memory-rate-limiter.ts';
import { goodPassword, issuer, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem } from '../http/problem-assertions.ts';
import { claimsOf, enrolTotp, nextStep, post } from './mfa/mfa-test-kit.ts';
import { totpCode } from './mfa/totp-code.ts';
import { SoftAuthenticator } from './passkeys/soft-authenticator.ts';
import { recoveryOf, tokenFromMail } from './recovery/recovery-helpers.ts';

let t: TestApp;
let gated: TestApp;
before(async () => {
  [t, gated] = await Promise.all([testApp(), testApp({ recovery: { requireVerifiedEmail: true } })]);
});
after(() => Promise.all([t?.close(), gated?.close()]));

async function registerPasskey(app: TestApp, s: TokenBody): Promise<SoftAuthenticator> {
  const device = new SoftAuthenticator(issuer);
  const options = await post(app, '/auth/passkeys/register/options', {}, s.accessToken);
  assert.equal(options.statusCode, 200, options.body);
  const r = await post(app, '/auth/passkeys/register', { credential: device.register(options.json()) }, s.accessToken);
  assert.equal(r.statusCode, 201, r.body);
  return device;
}

async function passkeyLogin(app: TestApp, device: SoftAuthenticator) {
  const options = await post(app, '/auth/passkeys/login/options', {});
  assert.equal(options.statusCode, 200, options.body);
  return post(app, '/auth/passkeys/login', { credential: device.authenticate(options.json()) });
}

describe('passkey sign-in and the gates', () => {
  test('a passkey with user verification is two factors: a user with TOTP is not asked for a code (amr hwk+user)', async () => {
    const s = await t.signUp();
    await enrolTotp(t, s);
    const device = await registerPasskey(t, s);
    expectProblem(await post(t, '/auth/login', { email: s.user.email, password: goodPassword }), 403, 'mfa_required');
    const r = await passkeyLogin(t, device);
    assert.equal(r.statusCode, 200, r.body);
    const claims = claimsOf(r.json().accessToken);
    if (claims) assert.deepEqual(claims.amr, ['hwk', 'user']);
  });

  test('with requireVerifiedEmail, a passkey sign-in of an account whose email is not verified is refused 403 email_not_verified', async () => {
    const email = uniqueEmail();
    assert.equal((await post(gated, '/auth/register', { email, password: goodPassword })).statusCode, 201);
    assert.equal((await post(gated, '/auth/email/verify', { token: await tokenFromMail(gated.app.tokenstile, email, 'verify') })).statusCode, 204);
    const s = (await post(gated, '/auth/login', { email, password: goodPassword })).json() as TokenBody;
    const device = await registerPasskey(gated, s);
    assert.equal((await passkeyLogin(gated, device)).statusCode, 200);
    // The address stops being verified (as a change of email to an unconfirmed one would leave it).
    const { users } = internals(gated.app.tokenstile).stores;
    assert.ok(await users.changeEmail(s.user.id, email, null, gated.clock.now()));
    expectProblem(await passkeyLogin(gated, device), 403, 'email_not_verified');
  });
});

describe('a successful sign-in voids reset links, whatever the method', () => {
  /** Asks for a reset link for `email`; answers its token. */
  async function resetLink(app: TestApp, email: string): Promise<string> {
    app.clock.advance(1);
    assert.equal((await post(app, '/auth/password/forgot', { email })).statusCode, 202);
    return tokenFromMail(app.app.tokenstile, email, 'reset');
  }
  /** Whether a reset with `token` still works (spends it when it does). */
  async function resetWorks(app: TestApp, token: string): Promise<boolean> {
    await recoveryOf(app.app.tokenstile).settle();
    const r = await post(app, '/auth/password/reset', { token, newPassword: 'a lamp under 3 ferns' });
    if (r.statusCode === 204) return true;
    expectProblem(r, 401, 'invalid_code');
    return false;
  }

  test('a passkey sign-in voids them', async () => {
    const s = await t.signUp();
    const device = await registerPasskey(t, s);
    const token = await resetLink(t, s.user.email);
    assert.equal((await passkeyLogin(t, device)).statusCode, 200);
    assert.equal(await resetWorks(t, token), false);
  });

  test('a password that is right but still needs the second factor leaves them; completing the sign-in voids them', async () => {
    const s = await t.signUp();
    const { secret } = await enrolTotp(t, s);
    const first = await resetLink(t, s.user.email);
    const pending = expectProblem(await post(t, '/auth/login', { email: s.user.email, password: goodPassword }), 403, 'mfa_required') as unknown as { mfaToken: string };
    assert.equal(await resetWorks(t, first), true, 'a half sign-in is no sign-in');
    const password = 'a lamp under 3 ferns';
    const again = expectProblem(await post(t, '/auth/login', { email: s.user.email, password }), 403, 'mfa_required') as unknown as { mfaToken: string };
    assert.notEqual(again.mfaToken, pending.mfaToken);
    const second = await resetLink(t, s.user.email);
    nextStep(t);
    const done = await post(t, '/auth/mfa/verify', { mfaToken: again.mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(await resetWorks(t, second), false);
  });
});

test('a change of email still needs the password of an account that has one (field password)', async () => {
  const s = await t.signUp();
  const r = expectProblem(await post(t, '/auth/email/change', { newEmail: uniqueEmail() }, s.accessToken), 400, 'invalid_request') as unknown as { field: string };
  assert.equal(r.field, 'password');
});

describe('limits shared by every instance', () => {
  test('passkey sign-in options and provider sign-in starts count on the core limiter: two instances sharing one (as on Redis) share the count', async () => {
    // One limiter for both, as every instance's is one Redis; a per-instance count would allow 2 + 2.
    const rateLimiter = new MemoryRateLimiter();
    const options = {
      rateLimiter,
      rateLimits: { loginPerIp: { limit: 2, window: '15m' } },
      oauthProviders: [{ id: 'idp', issuer: 'http://127.0.0.1:9', clientId: 'c', clientSecret: 's' }],
    } as const;
    const [a, b] = await Promise.all([testApp(options), testApp(options)]);
    try {
      for (const [i, app] of [a, a, b].entries()) {
        const r = await post(app, '/auth/passkeys/login/options', {});
        if (i < 2) assert.equal(r.statusCode, 200, r.body);
        else expectProblem(r, 429, 'too_many_requests');
      }
      for (const [i, app] of [a, b, b].entries()) {
        const r = await app.app.inject({ method: 'GET', url: '/auth/oauth/idp' });
        // The provider cannot be reached (502) until the starts are over the limit (429).
        if (i < 2) expectProblem(r, 502, 'oauth_provider_error');
        else expectProblem(r, 429, 'too_many_requests');
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
