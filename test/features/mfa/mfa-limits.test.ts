// Second-step limits under racing tries, recovery codes' single use, and how long a TOTP set-up waits for its code.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { totpCode } from './totp-code.ts';
import { goodPassword, testApp, uniqueEmail, withTwoInstances, type TestApp } from '../../helpers.ts';
import { featureApi } from '../../../src/core/feature.ts';
import { mfaFeature, type MfaFeatureApi } from '../../../src/features/mfa/mfa-feature.ts';
import { mfaLimits } from '../../../src/features/mfa/mfa-service.ts';
import { expectProblem } from '../../http/problem-assertions.ts';
import { enrolTotp, get, login, mfaRequired, nextStep, post } from './mfa-test-kit.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const mfaOf = (app: TestApp): MfaFeatureApi['mfa'] => featureApi(app.app.tokenstile, mfaFeature).mfa;
const failuresOf = (app: TestApp, userId: string) => mfaOf(app).store.failures(userId, app.clock.now(), mfaLimits.failureWindowMs);
const wrongCode = (secret: string, now: number) => (totpCode(secret, now) === '123456' ? '654321' : '123456');

test('racing wrong codes on one mfaToken: at most 5 are checked, the rest are refused unchecked', async () => {
  const email = uniqueEmail();
  const s = await t.signUp(email);
  const { secret } = await enrolTotp(t, s);
  nextStep(t);
  const { mfaToken } = await mfaRequired(t, email);
  const answers = await Promise.all(Array.from({ length: 12 }, () => post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: wrongCode(secret, t.clock.now()) })));
  // Racing past the per-user count too, a try may be turned away before its token's count (429).
  const statuses = answers.map((r) => r.statusCode);
  assert.ok(statuses.every((code) => code === 401 || code === 429), statuses.join(' '));
  const checked = await failuresOf(t, s.user.id);
  assert.ok(checked <= mfaLimits.attemptsPerToken, `${checked} wrong codes were checked`);
  // When the token's tries are used up, the right code does not revive it.
  if (checked === mfaLimits.attemptsPerToken) expectProblem(await post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) }), 401, 'invalid_code');
});

test('racing wrong codes over many mfaTokens: at most 10 per user are checked, the rest answer 429', async () => {
  const email = uniqueEmail();
  const s = await t.signUp(email);
  const { secret } = await enrolTotp(t, s);
  nextStep(t);
  const tokens = [];
  for (let i = 0; i < 6; i++) tokens.push((await mfaRequired(t, email)).mfaToken);
  const tries = tokens.flatMap((mfaToken) => Array.from({ length: 5 }, () => ({ mfaToken, method: 'totp', code: wrongCode(secret, t.clock.now()) })));
  const answers = await Promise.all(tries.map((body) => post(t, '/auth/mfa/verify', body)));
  const statuses = answers.map((r) => r.statusCode);
  assert.ok(statuses.every((code) => code === 401 || code === 429), statuses.join(' '));
  assert.ok(statuses.includes(429), 'the limit answered');
  assert.ok((await failuresOf(t, s.user.id)) <= mfaLimits.failuresPerUser, `${await failuresOf(t, s.user.id)} wrong codes were checked`);
});

test('a right code takes its attempt back: a user who signs in often is not limited', async () => {
  const email = uniqueEmail();
  const s = await t.signUp(email);
  const { secret } = await enrolTotp(t, s);
  for (let i = 0; i < mfaLimits.failuresPerUser + 2; i++) {
    nextStep(t);
    const { mfaToken } = await mfaRequired(t, email);
    const r = await post(t, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, t.clock.now()) });
    assert.equal(r.statusCode, 200, r.body);
  }
  assert.equal(await failuresOf(t, s.user.id), 0);
});

test('a TOTP set-up not confirmed within 10 minutes is void: 404, and TOTP stays off', async () => {
  const email = uniqueEmail();
  const s = await t.signUp(email);
  const setup = await post(t, '/auth/mfa/totp/setup', {}, s.accessToken);
  assert.equal(setup.statusCode, 200, setup.body);
  const { secret } = setup.json() as { secret: string };
  t.clock.advance(mfaLimits.setupTtlMs + 1000);
  // A re-authentication keeps step-up fresh, so only the set-up's age is tested here.
  assert.equal((await post(t, '/auth/reauthenticate', { method: 'password', password: goodPassword }, s.accessToken)).statusCode, 200);
  expectProblem(await post(t, '/auth/mfa/totp/confirm', { code: totpCode(secret, t.clock.now()) }, s.accessToken), 404, 'not_found');
  assert.equal((await login(t, email)).statusCode, 200, 'an unconfirmed set-up does not turn MFA on');
  // A new set-up can still be confirmed.
  await enrolTotp(t, s);
});

test('the per-user limit holds across instances: failures on one count on the other', () =>
  withTwoInstances(0, async (a, b) => {
    const email = uniqueEmail();
    const s = await a.signUp(email);
    const { secret } = await enrolTotp(a, s);
    nextStep(a);
    b.clock.set(a.clock.now());
    for (let i = 0; i < mfaLimits.failuresPerUser; i++) {
      const app = i % 2 === 0 ? a : b;
      const { mfaToken } = await mfaRequired(app, email);
      expectProblem(await post(app, '/auth/mfa/verify', { mfaToken, method: 'totp', code: wrongCode(secret, app.clock.now()) }), 401, 'invalid_code');
    }
    const { mfaToken } = await mfaRequired(b, email);
    expectProblem(await post(b, '/auth/mfa/verify', { mfaToken, method: 'totp', code: totpCode(secret, b.clock.now()) }), 429, 'too_many_requests');
  }));

test('recovery codes: one code raced on two mfaTokens signs in once; renewed codes void the old ones; the count left follows', async () => {
  const email = uniqueEmail();
  const s = await t.signUp(email);
  const { recoveryCodes } = await enrolTotp(t, s);
  const [a, b] = [await mfaRequired(t, email), await mfaRequired(t, email)];
  const raced = await Promise.all([a, b].map(({ mfaToken }) => post(t, '/auth/mfa/verify', { mfaToken, method: 'recovery_code', code: recoveryCodes[0] })));
  assert.deepEqual(raced.map((r) => r.statusCode).sort(), [200, 401]);
  const session = raced.find((r) => r.statusCode === 200)!.json() as { accessToken: string };
  assert.equal((await get(t, '/auth/mfa', session.accessToken)).json().recoveryCodesLeft, 9);
  const renewed = await post(t, '/auth/mfa/recovery-codes', {}, session.accessToken);
  assert.equal(renewed.statusCode, 200, renewed.body);
  expectProblem(await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'recovery_code', code: recoveryCodes[1] }), 401, 'invalid_code');
  assert.equal((await get(t, '/auth/mfa', session.accessToken)).json().recoveryCodesLeft, 10);
  const fresh = (renewed.json() as { recoveryCodes: string[] }).recoveryCodes[0];
  assert.equal((await post(t, '/auth/mfa/verify', { mfaToken: (await mfaRequired(t, email)).mfaToken, method: 'recovery_code', code: fresh })).statusCode, 200);
});
