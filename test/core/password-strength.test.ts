import assert from 'node:assert/strict';
import { test } from 'node:test';
import { passwordWeakness, strengthCheckLimits } from '../../src/core/password-strength.ts';

test('common passwords and their variants are refused with a reason; strong ones pass', async () => {
  for (const weak of ['password1', 'Password123!', 'p4ssw0rd!', 'qwerty123', 'Summer2024!', 'abcdefg1', 'iloveyou22', 'a1'.repeat(20)]) {
    const reason = await passwordWeakness(weak);
    assert.ok(reason !== null && reason.length > 10, `${weak} is refused with a reason`);
  }
  for (const strong of ['correct horse 42', 'Tz9$wq!M', 'brand new pass 7', 'a lamp under 3 ferns']) {
    assert.equal(await passwordWeakness(strong), null, `${strong} passes`);
  }
});

test('the length and character-class rule still applies first', async () => {
  assert.equal(await passwordWeakness('Tz9$wq!'), 'Use at least 8 characters.');
  assert.equal(await passwordWeakness('x'.repeat(257)), 'Use at most 256 characters.');
  assert.equal(await passwordWeakness('zqxjvkwpfhtg'), 'Mix letters with digits or symbols.');
});

test('a password made of the user\'s own email is refused', async () => {
  const email = 'quentin.zephyrine@example.com';
  assert.equal(await passwordWeakness('quentin.zephyrine7'), null, 'strong for anyone else');
  assert.notEqual(await passwordWeakness('quentin.zephyrine7', [email]), null);
});

test('a long password costs a bounded check (only its first 32 characters are scored)', async () => {
  await passwordWeakness('warm up 1 x');
  const long = Array.from({ length: 256 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 90))).join('');
  const t0 = performance.now();
  await passwordWeakness(long);
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `scoring took ${ms.toFixed(0)} ms`);
});

test('the l33t matcher is capped (its default of 100 substitutions cost 250-550 ms of event loop per check on a loaded 2-core machine), and l33t passwords are still refused', async () => {
  assert.ok(strengthCheckLimits.l33tMaxSubstitutions <= 16, 'at most 16 l33t substitutions are tried');
  assert.ok(strengthCheckLimits.maxLength <= 32);
  for (const weak of ['P@$$w0rd123!', 'Dr@g0n$l@y3r1', 'ch@ng3m3!1', 'W3lc0m3!@#', 'iL0v3Y0u!!', 'N1nj@$3cr3t', 'p@ssw0rd!p@ssw0rd!']) {
    assert.notEqual(await passwordWeakness(weak), null, `${weak} is refused`);
  }
  assert.equal(await passwordWeakness('Kq7#vR2!mZ8@wL4$tN6%yB1^cD3&fG5*'), null);
});
