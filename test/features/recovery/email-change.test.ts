// Change of email: confirmation to the new address, notice to the old, the other sessions end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp, type TokenBody } from '../../helpers.ts';
import { expectProblem, expectTokenRefused } from '../../http/problem-assertions.ts';
import { mailsTo, tokenFromMail } from './recovery-helpers.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const post = (url: string, payload?: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload, headers });
const me = (token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });
const change = (token: string, newEmail: string, password = goodPassword) => post('/auth/email/change', { newEmail, password }, bearer(token));

describe('change of email', () => {
  test('202; a link to the new address, a notice to the old; confirmed, the address is the new one, verified, and every other session ends', async () => {
    const s = await t.signUp();
    const other = (await post('/auth/login', { email: s.user.email, password: goodPassword })).json() as TokenBody;
    const newEmail = uniqueEmail();
    const res = await change(s.accessToken, ` ${newEmail.toUpperCase()} `);
    assert.equal(res.statusCode, 202, res.body);
    const [notice] = await mailsTo(t.app.tokenstile, s.user.email);
    assert.equal(notice?.kind, 'email_change_notice');
    assert.ok(notice?.text?.includes(newEmail));
    assert.doesNotMatch(notice?.text ?? '', /tso_/, 'the old address gets no link');
    assert.equal((await me(s.accessToken)).json().email, s.user.email, 'nothing changes before the link is followed');
    const token = await tokenFromMail(t.app.tokenstile, newEmail, 'email-change');
    assert.equal((await post('/auth/email/change/confirm', { token })).statusCode, 204);
    const now = (await me(s.accessToken)).json();
    assert.equal(now.email, newEmail);
    assert.equal(now.emailVerified, true);
    expectTokenRefused(await me(other.accessToken), 'session_revoked');
    expectProblem(await post('/auth/login', { email: s.user.email, password: goodPassword }), 401, 'invalid_credentials');
    assert.equal((await post('/auth/login', { email: newEmail, password: goodPassword })).statusCode, 200);
    expectProblem(await post('/auth/email/change/confirm', { token }), 401, 'invalid_code');
  });

  test('a wrong password is 401 and sends nothing; a taken address answers 202 like a free one (no enumeration) and gets no link; the same address is 400', async () => {
    const s = await t.signUp();
    const taken = await t.signUp();
    const newEmail = uniqueEmail();
    expectProblem(await change(s.accessToken, newEmail, 'wrong password 1'), 401, 'invalid_credentials');
    assert.deepEqual(await mailsTo(t.app.tokenstile, newEmail), []);
    const before = (await mailsTo(t.app.tokenstile, taken.user.email)).length;
    const res = await change(s.accessToken, taken.user.email);
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.body, '');
    assert.equal((await mailsTo(t.app.tokenstile, taken.user.email)).length, before, 'the owner of the taken address gets no link');
    assert.equal((await mailsTo(t.app.tokenstile, s.user.email))[0]?.kind, 'email_change_notice', 'the old address still hears of the attempt');
    expectProblem(await change(s.accessToken, s.user.email), 400, 'invalid_request');
    expectProblem(await change(s.accessToken, 'not an email'), 400, 'invalid_request');
    expectProblem(await post('/auth/email/change', { newEmail }), 401, 'invalid_token');
  });

  test('an address taken between the request and the confirmation is 409 and changes nothing', async () => {
    const s = await t.signUp();
    const newEmail = uniqueEmail();
    assert.equal((await change(s.accessToken, newEmail)).statusCode, 202);
    const token = await tokenFromMail(t.app.tokenstile, newEmail, 'email-change');
    assert.equal((await post('/auth/register', { email: newEmail, password: goodPassword })).statusCode, 201);
    expectProblem(await post('/auth/email/change/confirm', { token }), 409, 'email_taken');
    assert.equal((await me(s.accessToken)).json().email, s.user.email);
  });

  test('the link expires after an hour; a newer request replaces it', async () => {
    const s = await t.signUp();
    const first = uniqueEmail();
    await change(s.accessToken, first);
    const expiring = await tokenFromMail(t.app.tokenstile, first, 'email-change');
    t.clock.advance(3_600_000);
    expectProblem(await post('/auth/email/change/confirm', { token: expiring }), 401, 'invalid_code');
    // The access token has expired too by now: a new session.
    const again = (await post('/auth/login', { email: s.user.email, password: goodPassword })).json() as TokenBody;
    const second = uniqueEmail();
    assert.equal((await change(again.accessToken, first)).statusCode, 202);
    const older = await tokenFromMail(t.app.tokenstile, first, 'email-change');
    assert.equal((await change(again.accessToken, second)).statusCode, 202);
    // The newer link is issued after the answer (so that a taken address answers alike): wait for it.
    const newer = await tokenFromMail(t.app.tokenstile, second, 'email-change');
    expectProblem(await post('/auth/email/change/confirm', { token: older }), 401, 'invalid_code');
    assert.equal((await post('/auth/email/change/confirm', { token: newer })).statusCode, 204);
  });

  test('more than 5 minutes after the sign-in, a change needs a fresh proof of identity (step-up): 403 reauthentication_required', async () => {
    const s = await t.signUp();
    t.clock.advance(6 * 60_000);
    const newEmail = uniqueEmail();
    expectProblem(await change(s.accessToken, newEmail), 403, 'reauthentication_required');
    assert.deepEqual(await mailsTo(t.app.tokenstile, newEmail), []);
    assert.equal((await post('/auth/reauthenticate', { method: 'password', password: goodPassword }, bearer(s.accessToken))).statusCode, 200);
    assert.equal((await change(s.accessToken, newEmail)).statusCode, 202);
  });

  test('a pending change dies with a password change, a password reset, or the end of the session that asked (the owner taking the account back)', async () => {
    const cases: Array<[string, (s: TokenBody) => Promise<void>]> = [
      ['password change', async (s) => {
        const res = await post('/auth/password', { currentPassword: goodPassword, newPassword: 'another horse 77 staple' }, bearer(s.accessToken));
        assert.equal(res.statusCode, 204, res.body);
      }],
      ['password reset', async (s) => {
        assert.equal((await post('/auth/password/forgot', { email: s.user.email })).statusCode, 202);
        const token = await tokenFromMail(t.app.tokenstile, s.user.email, 'reset');
        assert.equal((await post('/auth/password/reset', { token, newPassword: 'another horse 77 staple' })).statusCode, 204);
      }],
      ['sign-out everywhere', async (s) => {
        assert.equal((await post('/auth/logout', { scope: 'global' }, bearer(s.accessToken))).statusCode, 204);
      }],
    ];
    for (const [what, takeBack] of cases) {
      const s = await t.signUp();
      const newEmail = uniqueEmail();
      assert.equal((await change(s.accessToken, newEmail)).statusCode, 202);
      const token = await tokenFromMail(t.app.tokenstile, newEmail, 'email-change');
      await takeBack(s);
      expectProblem(await post('/auth/email/change/confirm', { token }), 401, 'invalid_code');
      assert.equal((await post('/auth/login', { email: s.user.email, password: what === 'sign-out everywhere' ? goodPassword : 'another horse 77 staple' })).statusCode, 200, `${what}: the address is unchanged`);
    }
  });
});
