import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { expectProblem } from './problem-assertions.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const register = (payload: object) => t.app.inject({ method: 'POST', url: '/auth/register', payload });

/** A fresh address split so that characters can go between its local part and its domain. */
function address(): { local: string; domain: string } {
  const [local, domain] = uniqueEmail().split('@') as [string, string];
  return { local, domain };
}

describe('emails that differ only by what a person cannot see are one account', () => {
  test('a full-width (NFKC) copy of a registered email is taken, and signs in to the same account', async () => {
    const { local, domain } = address();
    const first = await register({ email: `${local}@${domain}`, password: goodPassword });
    assert.equal(first.statusCode, 201, first.body);
    const wide = [...`${local}@${domain}`].map((c) => (c >= '!' && c <= '~' ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join('');
    expectProblem(await register({ email: wide, password: goodPassword }), 409, 'email_taken');
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: wide, password: goodPassword } });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json().user.id, first.json().user.id);
  });

  for (const [what, make] of [
    ['a zero-width space', (l: string, d: string) => `${l}\u200b@${d}`],
    ['a zero-width joiner', (l: string, d: string) => `${l.slice(0, 2)}\u200d${l.slice(2)}@${d}`],
    ['a right-to-left override', (l: string, d: string) => `\u202e${l}@${d}`],
    ['a C1 control', (l: string, d: string) => `${l}\u009b@${d}`],
    ['a trailing dot', (l: string, d: string) => `${l}@${d}.`],
    ['an empty domain label', (l: string, d: string) => `${l}@${d.replace('.', '..')}`],
  ] as const) {
    test(`an email with ${what} is refused with a 400 that names the email field`, async () => {
      const { local, domain } = address();
      const body = expectProblem(await register({ email: make(local, domain), password: goodPassword }), 400, 'invalid_request');
      assert.match(body.detail, /\bemail\b/);
      // And the plain address is still free.
      assert.equal((await register({ email: `${local}@${domain}`, password: goodPassword })).statusCode, 201);
    });
  }
});

describe('display names refuse control and bidi characters', () => {
  for (const [what, name] of [
    ['a right-to-left override', 'Ada \u202eecilA'],
    ['a right-to-left isolate', 'Ada \u2067x\u2069'],
    ['a left-to-right mark', 'Ada\u200e'],
    ['a C1 control (CSI)', 'Ada \u009b31m'],
    ['an escape', 'Ada \u001b[31m'],
    ['a line break', 'Ada\nLovelace'],
    ['a line separator', 'Ada\u2028Lovelace'],
  ] as const) {
    test(`a name with ${what} is refused at registration and on PATCH /auth/me, naming the name field`, async () => {
      const reg = expectProblem(await register({ email: uniqueEmail(), password: goodPassword, name: name }), 400, 'invalid_request');
      assert.match(reg.detail, /\bname\b/);
      const s = await t.signUp();
      const patch = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(s.accessToken), payload: { name } });
      assert.match(expectProblem(patch, 400, 'invalid_request').detail, /\bname\b/);
    });
  }

  test('names in other scripts, with emoji sequences (zero-width joiners), are kept as given', async () => {
    const s = await t.signUp();
    for (const name of ['Ada Lovelace', 'עדה לאבלייס', 'エイダ', 'Ada 👩‍💻', 'می‌خواهم']) {
      const patch = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(s.accessToken), payload: { name } });
      assert.equal(patch.statusCode, 200, patch.body);
      assert.equal(patch.json().name, name);
    }
  });
});
