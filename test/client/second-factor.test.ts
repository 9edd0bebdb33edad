// tokenstile/client's second-factor helpers in Node (header transport), against the real app
// through app.inject: login answers mfa_required, secondFactorOf reads it, completeSignIn ends the
// sign-in with a TOTP code and the session works. (Passkey helpers need a browser: see
// test/browser/mfa-page.test.ts.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { completeSignIn, createClient, secondFactorOf, TokenstileProblem } from '../../src/client/index.ts';
import { goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { enrolTotp, nextStep } from '../features/mfa/mfa-test-kit.ts';
import { totpCode } from '../features/mfa/totp-code.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

/** `fetch` onto app.inject. */
const injectFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
  const url = new URL(String(input), 'http://127.0.0.1:3000');
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  const res = await t.app.inject({ method: (init.method ?? 'GET') as 'GET', url: url.pathname, headers, ...(init.body !== undefined && { payload: String(init.body) }) });
  const out = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (k !== 'set-cookie' && v !== undefined) out.set(k, String(v));
  return new Response(res.statusCode === 204 ? null : res.body, { status: res.statusCode, headers: out });
}) as typeof fetch;

test('login throws mfa_required with its members; completeSignIn finishes it with a code; a wrong code throws invalid_code', async () => {
  const email = uniqueEmail();
  const { secret } = await enrolTotp(t, await t.signUp(email));
  nextStep(t);
  const client = createClient({ transport: 'header', fetch: injectFetch, autoRefresh: false });
  let pending: ReturnType<typeof secondFactorOf> = null;
  try {
    await client.login({ email, password: goodPassword });
    assert.fail('signed in without the second factor');
  } catch (err) {
    assert.ok(err instanceof TokenstileProblem);
    assert.equal(err.code, 'mfa_required');
    pending = secondFactorOf(err);
  }
  assert.ok(pending);
  assert.deepEqual(pending.methods, ['totp', 'recovery_code']);
  assert.equal(secondFactorOf(new TokenstileProblem(401, 'invalid_credentials', 'x')), null);
  await assert.rejects(completeSignIn(client, pending, 'totp', '12345x'), (err: unknown) => err instanceof TokenstileProblem && err.code === 'invalid_code');
  const user = await completeSignIn(client, pending, 'totp', totpCode(secret, t.clock.now()));
  assert.equal(user.email, email);
  assert.equal((await client.me()).email, email);
  client.close();
});
