// One sign-in policy across the sign-in methods (password, passkey, sign-in link): the gates of
// the recovery and MFA features, and what a successful sign-in does to reset links, over every
// adapter and backend. (Social sign-in's share: test/features/social/social-gates.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { internals } from '../../src/core/core-internals.ts';
import { goodPassword, issuer, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem } from '../http/problem-assertions.ts';
import { claimsOf, enrolTotp, post } from './mfa/mfa-test-kit.ts';
import { SoftAuthenticator } from './passkeys/soft-authenticator.ts';
import { tokenFromMail } from './recovery/recovery-helpers.ts';

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
