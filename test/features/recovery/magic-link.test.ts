// Sign-in links: off by default; on, a link signs in (amr ["email"]) in either transport.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, goodPassword, jwtOnly, testApp, uniqueEmail, type TestApp } from '../../helpers.ts';
import { expectProblem } from '../../http/problem-assertions.ts';
import { claimsOf, mailsTo, tokenFromMail } from './recovery-helpers.ts';
import { enrolTotp } from '../mfa/mfa-test-kit.ts';
import { totpCode } from '../mfa/totp-code.ts';

let off: TestApp;
let on: TestApp;
before(async () => {
  off = await testApp();
  on = await testApp({ recovery: { magicLink: true } });
});
after(async () => {
  await off.close();
  await on.close();
});

const post = (app: TestApp, url: string, payload?: object, headers: Record<string, string> = {}) => app.app.inject({ method: 'POST', url, payload, headers });

describe('sign-in links', () => {
  test('off unless enabled: 404, and no mail', async () => {
    const s = await off.signUp();
    expectProblem(await post(off, '/auth/magic-link', { email: s.user.email }), 404, 'not_found');
    expectProblem(await post(off, '/auth/magic-link/verify', { token: `tso_${'A'.repeat(43)}` }), 404, 'not_found');
    assert.deepEqual(await mailsTo(off.app.tokenstile, s.user.email), []);
  });

  test('GET /auth/magic-link says whether sign-in links are on (the account page offers its form only then): 200 {enabled}, never a 4xx', async () => {
    for (const [t, enabled] of [[off, false], [on, true]] as const) {
      const res = await t.app.inject({ method: 'GET', url: '/auth/magic-link' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { enabled });
    }
  });

  test('202 for any address; the link signs in once with amr ["email"], verifies the address, and no account is made for an unknown one', async () => {
    const s = await on.signUp();
    const unknown = uniqueEmail();
    assert.equal((await post(on, '/auth/magic-link', { email: s.user.email })).statusCode, 202);
    assert.equal((await post(on, '/auth/magic-link', { email: unknown })).statusCode, 202);
    assert.deepEqual(await mailsTo(on.app.tokenstile, unknown), []);
    const token = await tokenFromMail(on.app.tokenstile, s.user.email, 'magic');
    const res = await post(on, '/auth/magic-link/verify', { token });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.tokenType, 'Bearer');
    assert.equal(body.user.id, s.user.id);
    assert.equal(body.user.emailVerified, true);
    if (!jwtOnly) assert.deepEqual(claimsOf(body.accessToken).amr, ['email']);
    assert.equal((await on.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(body.accessToken) })).statusCode, 200);
    expectProblem(await post(on, '/auth/magic-link/verify', { token }), 401, 'invalid_code');
    expectProblem(await post(on, '/auth/login', { email: unknown, password: goodPassword }), 401, 'invalid_credentials');
  });

  test('cookie transport: the cookies and a CSRF token, no token in the body; a foreign origin is refused', async () => {
    const s = await on.signUp();
    await post(on, '/auth/magic-link', { email: s.user.email });
    const token = await tokenFromMail(on.app.tokenstile, s.user.email, 'magic');
    expectProblem(await post(on, '/auth/magic-link/verify', { token }, { 'tokenstile-transport': 'cookie', origin: 'https://evil.example' }), 403, 'csrf_failed');
    const res = await post(on, '/auth/magic-link/verify', { token }, { 'tokenstile-transport': 'cookie' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(typeof res.json().csrfToken, 'string');
    assert.equal(res.json().accessToken, undefined);
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    assert.ok(cookies.some((c) => c.startsWith('__Host-tokenstile-access=')));
  });

  test('a link expires after 15 minutes and a newer one replaces it', async () => {
    const s = await on.signUp();
    await post(on, '/auth/magic-link', { email: s.user.email });
    const old = await tokenFromMail(on.app.tokenstile, s.user.email, 'magic');
    on.clock.advance(15 * 60_000);
    expectProblem(await post(on, '/auth/magic-link/verify', { token: old }), 401, 'invalid_code');
    await post(on, '/auth/magic-link', { email: s.user.email });
    const older = await tokenFromMail(on.app.tokenstile, s.user.email, 'magic');
    on.clock.advance(1000);
    await post(on, '/auth/magic-link', { email: s.user.email });
    // The new link is issued after the answer: wait for it.
    const newer = await tokenFromMail(on.app.tokenstile, s.user.email, 'magic');
    assert.notEqual(newer, older);
    expectProblem(await post(on, '/auth/magic-link/verify', { token: older }), 401, 'invalid_code');
    assert.equal((await post(on, '/auth/magic-link/verify', { token: newer })).statusCode, 200);
  });

  test('a user with a second factor is asked for it: the link answers 403 mfa_required, and the code completes the sign-in with amr email+otp', async () => {
    const s = await on.signUp();
    const { secret } = await enrolTotp(on, s);
    await post(on, '/auth/magic-link', { email: s.user.email });
    const token = await tokenFromMail(on.app.tokenstile, s.user.email, 'magic');
    const refused = expectProblem(await post(on, '/auth/magic-link/verify', { token }), 403, 'mfa_required') as unknown as { mfaToken: string };
    assert.match(refused.mfaToken, /^tsm_/);
    on.clock.set((Math.floor(on.clock.now() / 30_000) + 1) * 30_000 + 1_000);
    const done = await post(on, '/auth/mfa/verify', { mfaToken: refused.mfaToken, method: 'totp', code: totpCode(secret, on.clock.now()) });
    assert.equal(done.statusCode, 200, done.body);
    if (!jwtOnly) assert.deepEqual((claimsOf(done.json().accessToken).amr as string[]).slice(0, 2), ['email', 'otp']);
    expectProblem(await post(on, '/auth/magic-link/verify', { token }), 401, 'invalid_code');
  });
});
