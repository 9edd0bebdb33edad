// POST /auth/password/forgot and /auth/password/reset, over every adapter and backend.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp, type TokenBody } from '../../helpers.ts';
import { expectProblem, expectTokenRefused } from '../../http/problem-assertions.ts';
import { mailsTo, recoveryOf, tokenFromMail } from './recovery-helpers.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const post = (url: string, payload: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload, headers });
const login = (email: string, password = goodPassword) => post('/auth/login', { email, password });
const me = (token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });
const newPassword = 'a lamp under 3 ferns';

async function forgot(email: string): Promise<string> {
  // Mails are listed newest first by id, whose time part is the clock's millisecond.
  t.clock.advance(1);
  const res = await post('/auth/password/forgot', { email });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.body, '');
  return tokenFromMail(t.app.tokenstile, email, 'reset');
}

describe('password reset', () => {
  test('forgot answers 202 for known and unknown addresses alike; only the account gets a link, kept in the outbox without SMTP', async () => {
    const s = await t.signUp();
    const unknown = uniqueEmail();
    const known = await post('/auth/password/forgot', { email: s.user.email });
    const other = await post('/auth/password/forgot', { email: unknown });
    assert.equal(known.statusCode, 202);
    assert.equal(other.statusCode, 202);
    assert.deepEqual({ ...known.headers, date: null, 'content-length': null }, { ...other.headers, date: null, 'content-length': null }, 'the same headers');
    const mails = await mailsTo(t.app.tokenstile, s.user.email);
    assert.equal(mails.length, 1);
    assert.equal(mails[0]!.state, 'outbox');
    assert.equal(mails[0]!.kind, 'password_reset');
    assert.match(mails[0]!.text ?? '', /http:\/\/127\.0\.0\.1:3000\/account#reset=tso_/);
    assert.deepEqual(await mailsTo(t.app.tokenstile, unknown), []);
  });

  test('reset sets the password and ends every session of the user at once; the old password and tokens are refused', async () => {
    const s = await t.signUp();
    const second = (await login(s.user.email)).json() as TokenBody;
    const token = await forgot(s.user.email);
    const res = await post('/auth/password/reset', { token, newPassword });
    assert.equal(res.statusCode, 204, res.body);
    expectTokenRefused(await me(s.accessToken), 'session_revoked');
    expectTokenRefused(await me(second.accessToken), 'session_revoked');
    expectProblem(await post('/auth/refresh', { refreshToken: second.refreshToken }), 401, 'invalid_refresh_token');
    expectProblem(await login(s.user.email), 401, 'invalid_credentials');
    const fresh = await login(s.user.email, newPassword);
    assert.equal(fresh.statusCode, 200, fresh.body);
    assert.equal(fresh.json().user.emailVerified, true, 'the link proved the address');
  });

  test('a reset token works once', async () => {
    const s = await t.signUp();
    const token = await forgot(s.user.email);
    assert.equal((await post('/auth/password/reset', { token, newPassword })).statusCode, 204);
    expectProblem(await post('/auth/password/reset', { token, newPassword: 'another lamp 4 ferns' }), 401, 'invalid_code');
    assert.equal((await login(s.user.email, newPassword)).statusCode, 200);
  });

  test('a reset token expires after 30 minutes', async () => {
    const s = await t.signUp();
    const token = await forgot(s.user.email);
    t.clock.advance(30 * 60_000);
    expectProblem(await post('/auth/password/reset', { token, newPassword }), 401, 'invalid_code');
    assert.equal((await login(s.user.email)).statusCode, 200, 'the password is unchanged');
  });

  test('a newer reset link replaces the older one', async () => {
    const s = await t.signUp();
    const older = await forgot(s.user.email);
    t.clock.advance(1000);
    const newer = await forgot(s.user.email);
    assert.notEqual(older, newer);
    expectProblem(await post('/auth/password/reset', { token: older, newPassword }), 401, 'invalid_code');
    assert.equal((await post('/auth/password/reset', { token: newer, newPassword })).statusCode, 204);
  });

  test('a password change voids a reset link issued before it', async () => {
    const s = await t.signUp();
    const token = await forgot(s.user.email);
    const changed = await t.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(s.accessToken), payload: { currentPassword: goodPassword, newPassword: 'brand new pass 7' } });
    assert.equal(changed.statusCode, 204, changed.body);
    expectProblem(await post('/auth/password/reset', { token, newPassword }), 401, 'invalid_code');
    assert.equal((await login(s.user.email, 'brand new pass 7')).statusCode, 200);
  });

  test('a failed sign-in leaves the reset link alone; a successful one voids it', async () => {
    const s = await t.signUp();
    const token = await forgot(s.user.email);
    expectProblem(await login(s.user.email, 'wrong password 1'), 401, 'invalid_credentials');
    assert.equal((await post('/auth/password/reset', { token, newPassword })).statusCode, 204, 'still valid after a failed sign-in');
    const next = await forgot(s.user.email);
    assert.equal((await login(s.user.email, newPassword)).statusCode, 200);
    // Voided on the session_started event, as the session starts: wait for that work.
    await recoveryOf(t.app.tokenstile).settle();
    expectProblem(await post('/auth/password/reset', { token: next, newPassword: 'another lamp 4 ferns' }), 401, 'invalid_code');
  });

  test('a weak new password is refused with the reason, and the token stays usable', async () => {
    const s = await t.signUp();
    const token = await forgot(s.user.email);
    const weak = expectProblem(await post('/auth/password/reset', { token, newPassword: 'Password123!' }), 400, 'weak_password') as { reason?: string; detail: string };
    assert.match(weak.reason ?? '', /common/i);
    assert.equal(weak.detail, weak.reason);
    assert.equal((await post('/auth/password/reset', { token, newPassword })).statusCode, 204);
  });

  test('malformed bodies name the field; unknown and made-up tokens are invalid_code', async () => {
    expectProblem(await post('/auth/password/forgot', { email: 'not an email' }), 400, 'invalid_request');
    expectProblem(await post('/auth/password/forgot', {}), 400, 'invalid_request');
    expectProblem(await post('/auth/password/reset', { token: 'tso_x', newPassword }), 401, 'invalid_code');
    expectProblem(await post('/auth/password/reset', { token: `tso_${'A'.repeat(43)}`, newPassword }), 401, 'invalid_code');
    expectProblem(await post('/auth/password/reset', { token: 42, newPassword }), 400, 'invalid_request');
    expectProblem(await post('/auth/password/reset', { token: 'tso_x', newPassword, extra: 1 }), 400, 'invalid_request');
  });

  test('a disabled account gets no link, and its pending link stops working', async () => {
    const s = await t.signUp();
    const token = await forgot(s.user.email);
    assert.ok((await t.app.tokenstile.disableUser(s.user.id)).ok);
    expectProblem(await post('/auth/password/reset', { token, newPassword }), 401, 'invalid_code');
    const before = (await mailsTo(t.app.tokenstile, s.user.email)).length;
    assert.equal((await post('/auth/password/forgot', { email: s.user.email })).statusCode, 202);
    assert.equal((await mailsTo(t.app.tokenstile, s.user.email)).length, before);
  });

  test('the answer does not wait for the lookup: forgot for a known and an unknown address take the same time', async (ctx) => {
    const s = await t.signUp();
    const samples: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
    for (let i = 0; i < 40; i++) {
      for (const kind of i % 2 === 0 ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const)) {
        const t0 = performance.now();
        const res = await post('/auth/password/forgot', { email: kind === 'known' ? s.user.email : uniqueEmail() });
        samples[kind].push(performance.now() - t0);
        assert.equal(res.statusCode, 202);
      }
      await recoveryOf(t.app.tokenstile).settle();
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [k, u] = [median(samples.known), median(samples.unknown)];
    ctx.diagnostic(`forgot median: known ${k.toFixed(2)} ms, unknown ${u.toFixed(2)} ms`);
    assert.ok(Math.abs(k - u) < Math.max(2, 0.5 * Math.min(k, u)), `known ${k.toFixed(2)} ms vs unknown ${u.toFixed(2)} ms`);
  });
});

describe('password reset rate limits', () => {
  test('per address (known or not, alike) and per IP: 429 with Retry-After', async () => {
    const limited = await testApp({ rateLimits: { mailPerAccount: { limit: 2, window: '1h' }, mailPerIp: { limit: 6, window: '1h' } } });
    try {
      const s = await limited.signUp();
      const forgotOn = (email: string) => limited.app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email } });
      const unknown = uniqueEmail();
      for (const email of [s.user.email, unknown]) {
        assert.equal((await forgotOn(email)).statusCode, 202);
        assert.equal((await forgotOn(email)).statusCode, 202);
        const third = await forgotOn(email);
        expectProblem(third, 429, 'too_many_requests');
        assert.ok(Number(third.headers['retry-after']) > 0);
      }
      assert.equal((await forgotOn(uniqueEmail())).statusCode, 429, 'the seventh request from this IP');
      assert.equal((await mailsTo(limited.app.tokenstile, s.user.email)).length, 2);
    } finally {
      await limited.close();
    }
  });
});
