import assert from 'node:assert/strict';
import { test } from 'node:test';
import { passwordWeakness } from '../../src/core/password-strength.ts';

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
