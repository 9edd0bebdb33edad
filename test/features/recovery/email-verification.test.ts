// Email verification: emailVerified on the user and in tokens, the links, the
// requireVerifiedEmail gate and its resend, over every adapter and backend.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, goodPassword, jwtOnly, testApp, uniqueEmail, type TestApp } from '../../helpers.ts';
import { expectProblem } from '../../http/problem-assertions.ts';
import { claimsOf, mailsTo, tokenFromMail } from './recovery-helpers.ts';

let t: TestApp;
let gated: TestApp;
before(async () => {
  t = await testApp();
  gated = await testApp({ recovery: { requireVerifiedEmail: true } });
});
after(async () => {
  await t.close();
  await gated.close();
});

const post = (app: TestApp, url: string, payload?: object, headers: Record<string, string> = {}) => app.app.inject({ method: 'POST', url, payload, headers });
const me = (app: TestApp, token: string) => app.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });

describe('email verification', () => {
  test('a new user is unverified; a requested link verifies them, and /auth/me and new tokens say so', async () => {
    const s = await t.signUp();
    assert.equal((s.user as { emailVerified?: boolean }).emailVerified, false);
    assert.equal((await me(t, s.accessToken)).json().emailVerified, false);
    assert.deepEqual(await mailsTo(t.app.tokenstile, s.user.email), [], 'no mail at sign-up without SMTP');
    const req = await post(t, '/auth/email/verify/request', undefined, bearer(s.accessToken));
    assert.equal(req.statusCode, 202, req.body);
    const token = await tokenFromMail(t.app.tokenstile, s.user.email, 'verify');
    const res = await post(t, '/auth/email/verify', { token });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal((await me(t, s.accessToken)).json().emailVerified, true, 'seen at once');
    const refreshed = await post(t, '/auth/refresh', { refreshToken: s.refreshToken });
    assert.equal(refreshed.json().user.emailVerified, true);
    if (!jwtOnly) assert.equal(claimsOf(refreshed.json().accessToken).email_verified, true);
    expectProblem(await post(t, '/auth/email/verify', { token }), 401, 'invalid_code');
  });

  test('a verified user asking again gets no mail; the request needs a signed-in user', async () => {
    const s = await t.signUp();
    await post(t, '/auth/email/verify/request', {}, bearer(s.accessToken));
    assert.equal((await post(t, '/auth/email/verify', { token: await tokenFromMail(t.app.tokenstile, s.user.email, 'verify') })).statusCode, 204);
    assert.equal((await post(t, '/auth/email/verify/request', undefined, bearer(s.accessToken))).statusCode, 202);
    assert.equal((await mailsTo(t.app.tokenstile, s.user.email)).length, 1);
    expectProblem(await post(t, '/auth/email/verify/request'), 401, 'invalid_token');
  });

  test('a verification link expires after 24 hours', async () => {
    const s = await t.signUp();
    await post(t, '/auth/email/verify/request', undefined, bearer(s.accessToken));
    const token = await tokenFromMail(t.app.tokenstile, s.user.email, 'verify');
    t.clock.advance(24 * 3_600_000);
    expectProblem(await post(t, '/auth/email/verify', { token }), 401, 'invalid_code');
  });

  test('with requireVerifiedEmail, the right password answers 403 email_not_verified until the link is followed; a wrong one stays 401', async () => {
    const email = uniqueEmail();
    assert.equal((await post(gated, '/auth/register', { email, password: goodPassword })).statusCode, 201);
    const token = await tokenFromMail(gated.app.tokenstile, email, 'verify');
    expectProblem(await post(gated, '/auth/login', { email, password: goodPassword }), 403, 'email_not_verified');
    expectProblem(await post(gated, '/auth/login', { email, password: 'wrong password 1' }), 401, 'invalid_credentials');
    assert.equal((await post(gated, '/auth/email/verify', { token })).statusCode, 204);
    const login = await post(gated, '/auth/login', { email, password: goodPassword });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json().user.emailVerified, true);
  });

  test('resend answers 202 for any address; only an unverified account gets a new link, which replaces the old', async () => {
    const email = uniqueEmail();
    await post(gated, '/auth/register', { email, password: goodPassword });
    const first = await tokenFromMail(gated.app.tokenstile, email, 'verify');
    gated.clock.advance(1000);
    assert.equal((await post(gated, '/auth/email/verify/resend', { email })).statusCode, 202);
    const unknown = uniqueEmail();
    assert.equal((await post(gated, '/auth/email/verify/resend', { email: unknown })).statusCode, 202);
    const second = await tokenFromMail(gated.app.tokenstile, email, 'verify');
    assert.notEqual(first, second);
    assert.deepEqual(await mailsTo(gated.app.tokenstile, unknown), []);
    expectProblem(await post(gated, '/auth/email/verify', { token: first }), 401, 'invalid_code');
    assert.equal((await post(gated, '/auth/email/verify', { token: second })).statusCode, 204);
    const count = (await mailsTo(gated.app.tokenstile, email)).length;
    assert.equal((await post(gated, '/auth/email/verify/resend', { email })).statusCode, 202);
    assert.equal((await mailsTo(gated.app.tokenstile, email)).length, count, 'a verified account gets nothing');
  });

  test('a verification link is void once the account changed its email', async () => {
    const s = await t.signUp();
    await post(t, '/auth/email/verify/request', undefined, bearer(s.accessToken));
    const token = await tokenFromMail(t.app.tokenstile, s.user.email, 'verify');
    const other = uniqueEmail();
    assert.equal((await post(t, '/auth/email/change', { newEmail: other, password: goodPassword }, bearer(s.accessToken))).statusCode, 202);
    assert.equal((await post(t, '/auth/email/change/confirm', { token: await tokenFromMail(t.app.tokenstile, other, 'email-change') })).statusCode, 204);
    expectProblem(await post(t, '/auth/email/verify', { token }), 401, 'invalid_code');
  });
});
