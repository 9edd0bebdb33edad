import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from './totp-code.ts';
import { appBackend, testApp, uniqueEmail, withTwoInstances, type TestApp } from '../../helpers.ts';
import { internals } from '../../../src/core/core-internals.ts';
import { expectFieldProblem, expectProblem } from '../../http/problem-assertions.ts';
import { auditWith, claimsOf, del, enrolTotp, expectEnded, expectLive, get, login, mfaRequired, nextStep, post } from './mfa-test-kit.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

describe('TOTP enrolment', () => {
  test('set-up answers a secret, its otpauth URI and a PNG QR code; confirm answers ten recovery codes once and ends the other sessions', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    const other = (await login(t, email)).json();
    const setup = await post(t, '/auth/mfa/totp/setup', {}, s.accessToken);
    assert.equal(setup.statusCode, 200, setup.body);
    const { secret, uri, qrCode } = setup.json();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.ok(uri.startsWith('otpauth://totp/') && uri.includes(`secret=${secret}`), uri);
    assert.ok(qrCode.startsWith('data:image/png;base64,'));
    assert.ok(Buffer.from(qrCode.split(',')[1], 'base64').subarray(1, 4).toString() === 'PNG');
    expectProblem(await post(t, '/auth/mfa/totp/confirm', { code: '000000' === totpCode(secret, t.clock.now()) ? '111111' : '000000' }, s.accessToken), 401, 'invalid_code');
    await expectLive(t, other.accessToken);
    const confirmed = await post(t, '/auth/mfa/totp/confirm', { code: totpCode(secret, t.clock.now()) }, s.accessToken);
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    const { recoveryCodes } = confirmed.json();
    assert.equal(recoveryCodes.length, 10);
    await expectEnded(t, other.accessToken);
    await expectLive(t, s.accessToken);
    assert.deepEqual((await get(t, '/auth/mfa', s.accessToken)).json(), { totp: true, recoveryCodesLeft: 10, passkeys: 0, methods: ['totp', 'recovery_code'] });
    expectProblem(await post(t, '/auth/mfa/totp/setup', {}, s.accessToken), 409, 'mfa_already_enabled');
    const audit = await auditWith(t, s.user.id, ['mfa.enabled', 'session_revoked']);
    assert.ok(audit.some((e) => e.type === 'session_revoked' && e.sessionId === other.session.id && e.detail.cause === 'credential_change'));
    assert.ok(!JSON.stringify(audit).includes(secret), 'the secret is never audited');
  });

  test('bad input is a 400 naming the field', async () => {
    const s = await t.signUp();
    expectFieldProblem(await post(t, '/auth/mfa/totp/confirm', { code: 123456 }, s.accessToken), 'code');
    expectFieldProblem(await post(t, '/auth/mfa/verify', { mfaToken: 'x', method: 'sms', code: '1' }), 'method');
    expectFieldProblem(await post(t, '/auth/mfa/verify', { mfaToken: 'x', method: 'totp', code: '1', extra: 1 }), 'extra');
    expectProblem(await post(t, '/auth/mfa/totp/confirm', { code: '123456' }, s.accessToken), 404, 'not_found');
  });
});

describe('sign-in with a second factor', () => {
  test('the password answers 403 mfa_required; the right code completes it with amr pwd+otp+mfa, once', async () => {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    nextStep(t);
    const { mfaToken, methods } = await mfaRequired(t, email);
    assert.deepEqual(methods, ['totp', 'recovery_code']);
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now() - 120_000) }), 401, 'invalid_code');
    const ok = await post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) });
    assert.equal(ok.statusCode, 200, ok.body);
    const tokens = ok.json();
    assert.equal(tokens.tokenType, 'Bearer');
    await expectLive(t, tokens.accessToken);
    const claims = claimsOf(tokens.accessToken);
    if (claims) {
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(claims.auth_time, Math.floor(t.clock.now() / 1000));
    }
    nextStep(t);
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) }), 401, 'invalid_code');
  });

  test('replay: a code accepted once is refused for the rest of its window, even with a new mfaToken', async () => {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    nextStep(t);
    const code = totpCode(secret, t.clock.now());
    assert.equal((await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'totp', code })).statusCode, 200);
    t.clock.advance(10_000);
    const again = await mfaRequired(t, email);
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken: again.mfaToken, method: 'totp', code }), 401, 'invalid_code');
    nextStep(t);
    assert.equal((await post(t, '/auth/mfa/verify', { mfaToken: again.mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) })).statusCode, 200, 'a wrong code did not spend the token');
  });

  test('two racing uses of one code: exactly one signs in', async () => {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    nextStep(t);
    const [a, b] = [await mfaRequired(t, email), await mfaRequired(t, email)];
    const code = totpCode(secret, t.clock.now());
    const answers = await Promise.all([a, b].map((c) => post(t, '/auth/mfa/verify', { mfaToken: c.mfaToken, method: 'totp', code })));
    assert.deepEqual(answers.map((r) => r.statusCode).sort(), [200, 401]);
  });

  test('rate limits: 5 wrong codes kill an mfaToken; 10 per user answer 429 with Retry-After, whatever the token', async () => {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    nextStep(t);
    const wrong = () => (totpCode(secret, t.clock.now()) === '123456' ? '654321' : '123456');
    const first = await mfaRequired(t, email);
    for (let i = 0; i < 5; i++) expectProblem(await post(t, '/auth/mfa/verify', { mfaToken: first.mfaToken, method: 'totp', code: wrong() }), 401, 'invalid_code');
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken: first.mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) }), 401, 'invalid_code');
    const second = await mfaRequired(t, email);
    for (let i = 0; i < 5; i++) expectProblem(await post(t, '/auth/mfa/verify', { mfaToken: second.mfaToken, method: 'recovery_code', code: 'aaaaa-aaaaa' }), 401, 'invalid_code');
    const third = await mfaRequired(t, email);
    const limited = await post(t, '/auth/mfa/verify', { mfaToken: third.mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) });
    expectProblem(limited, 429, 'too_many_requests');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    t.clock.advance(15 * 60_000);
    nextStep(t);
    const fourth = await mfaRequired(t, email);
    assert.equal((await post(t, '/auth/mfa/verify', { mfaToken: fourth.mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) })).statusCode, 200);
  });

  test('an mfaToken expires after 5 minutes, and a forged one is refused alike', async () => {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    const { mfaToken } = await mfaRequired(t, email);
    t.clock.advance(5 * 60_000 + 1);
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) }), 401, 'invalid_code');
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken: `tsm_${'A'.repeat(43)}`, method: 'totp', code: '123456' }), 401, 'invalid_code');
  });

  test('cookie transport: the second step answers as a cookie login does', async () => {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    nextStep(t);
    const { mfaToken } = await mfaRequired(t, email);
    const r = await post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) }, undefined, { 'tokenstile-transport': 'cookie' });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(typeof r.json().csrfToken, 'string');
    assert.equal(r.json().accessToken, undefined);
    assert.ok(r.cookies.some((c) => c.name.startsWith('__Host-')), 'the access cookie is set');
  });

  test('a recovery code signs in once, ends the other sessions, and is audited', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    const { recoveryCodes } = await enrolTotp(t, s);
    const code = recoveryCodes[3]!;
    const r = await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'recovery_code', code: code.toUpperCase() });
    assert.equal(r.statusCode, 200, r.body);
    const claims = claimsOf(r.json().accessToken);
    if (claims) assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    await expectEnded(t, s.accessToken);
    await expectLive(t, r.json().accessToken);
    expectProblem(await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'recovery_code', code }), 401, 'invalid_code');
    assert.equal((await get(t, '/auth/mfa', r.json().accessToken)).json().recoveryCodesLeft, 9);
    const audit = await auditWith(t, s.user.id, ['mfa.recovery_code_used']);
    const used = audit.find((e) => e.type === 'mfa.recovery_code_used');
    assert.equal(used?.detail.codesLeft, '9');
    assert.ok(!JSON.stringify(audit).includes(code), 'the code is never audited');
  });
});

describe('step-up and removal', () => {
  test('removing TOTP needs a recent sign-in: 403, re-authenticate (wrong password 401), then 204 and the other sessions end', async () => {
    const email = uniqueEmail();
    const s0 = await t.signUp(email);
    const { secret } = await enrolTotp(t, s0);
    nextStep(t);
    const s = (await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) })).json();
    t.clock.advance(6 * 60_000);
    expectProblem(await del(t, '/auth/mfa/totp', s.accessToken), 403, 'reauthentication_required');
    expectProblem(await post(t, '/auth/password', { currentPassword: 'correct horse 42', newPassword: 'another horse 43' }, s.accessToken), 403, 'reauthentication_required');
    expectProblem(await post(t, '/auth/reauthenticate', { method: 'password', password: 'wrong horse 41' }, s.accessToken), 401, 'invalid_credentials');
    expectFieldProblem(await post(t, '/auth/reauthenticate', { method: 'password' }, s.accessToken), 'password');
    const re = await post(t, '/auth/reauthenticate', { method: 'password', password: 'correct horse 42' }, s.accessToken);
    assert.equal(re.statusCode, 200, re.body);
    assert.equal(re.json().authTime, Math.floor(t.clock.now() / 1000));
    const other = await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'recovery_code', code: (await post(t, '/auth/mfa/recovery-codes', {}, s.accessToken)).json().recoveryCodes[0] });
    assert.equal(other.statusCode, 200, other.body);
    await expectEnded(t, s.accessToken); // a recovery code used elsewhere ends this session too
    const current = other.json();
    nextStep(t);
    const bystander = (await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) })).json();
    await expectLive(t, bystander.accessToken);
    assert.equal((await del(t, '/auth/mfa/totp', current.accessToken)).statusCode, 204);
    await expectEnded(t, bystander.accessToken);
    await expectLive(t, current.accessToken);
    assert.equal((await login(t, email)).statusCode, 200, 'a password alone signs in again');
    expectProblem(await del(t, '/auth/mfa/totp', current.accessToken), 404, 'not_found');
  });

  test('an embedder calling core.changePassword checks step-up with the exported recentAuthGuard', async () => {
    const { recentAuthGuard } = await import('../../../src/index.ts');
    const core = t.app.tokenstile;
    const s = await t.signUp();
    const guard = recentAuthGuard(core);
    assert.ok(guard, 'a core with the MFA feature has the guard');
    const authOf = async () => {
      const r = await core.authenticate(s.accessToken);
      assert.ok(r.ok);
      return r.value;
    };
    assert.equal((await guard(await authOf())).ok, true, 'a fresh sign-in passes');
    t.clock.advance(6 * 60_000);
    const stale = await guard(await authOf());
    assert.equal(stale.ok ? null : stale.code, 'reauthentication_required');
    assert.equal((await post(t, '/auth/reauthenticate', { method: 'password', password: 'correct horse 42' }, s.accessToken)).statusCode, 200);
    assert.equal((await guard(await authOf())).ok, true, 'the session’s new auth time counts at once');
  });

  test('re-authentication with a TOTP code refreshes auth_time; the refreshed token carries it', async () => {
    const email = uniqueEmail();
    const s = await t.signUp(email);
    const { secret } = await enrolTotp(t, s);
    t.clock.advance(10 * 60_000);
    nextStep(t);
    expectProblem(await post(t, '/auth/mfa/recovery-codes', {}, s.accessToken), 403, 'reauthentication_required');
    assert.equal((await post(t, '/auth/reauthenticate', { method: 'totp', code: totpCode(secret, t.clock.now()) }, s.accessToken)).statusCode, 200);
    assert.equal((await post(t, '/auth/mfa/recovery-codes', {}, s.accessToken)).statusCode, 200);
    const refreshed = (await post(t, '/auth/refresh', { refreshToken: s.refreshToken })).json();
    const claims = claimsOf(refreshed.accessToken);
    if (claims) assert.equal(claims.auth_time, Math.floor(t.clock.now() / 1000));
  });
});

test('a credential change on one instance is refused on the other', () =>
  withTwoInstances(0, async (a, b) => {
    const email = uniqueEmail();
    const s = await a.signUp(email);
    const elsewhere = (await login(b, email)).json();
    await expectLive(a, elsewhere.accessToken);
    await enrolTotp(b, (await login(b, email)).json());
    // With a revocation feed (Redis) the change answered only once every instance refuses; on a
    // shared SQLite file, instance A learns it from the store at its next poll.
    if (appBackend !== 'postgres+redis') await internals(a.app.tokenstile).syncRevocations();
    await expectEnded(a, elsewhere.accessToken);
    await expectEnded(a, s.accessToken);
  }));
