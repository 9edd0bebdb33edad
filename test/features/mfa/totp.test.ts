import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { secureRandom } from '../../../src/core/ids.ts';
import { matchTotp, newTotpSecret, normalizeTotpCode, totpStep, totpUri } from '../../../src/features/mfa/totp.ts';
import { totpCode } from './totp-code.ts';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from '../../../src/features/mfa/recovery-codes.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

test('a secret is 160 random bits in base32, and its URI is what authenticator apps read', async () => {
  const secret = await newTotpSecret(secureRandom);
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.notEqual(await newTotpSecret(secureRandom), secret);
  const uri = new URL(await totpUri(secret, 'Tokenstile', 'ada@example.com'));
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname), '/Tokenstile:ada@example.com');
  assert.equal(uri.searchParams.get('secret'), secret);
  assert.equal(uri.searchParams.get('period'), '30');
  assert.equal(uri.searchParams.get('digits'), '6');
});

test('the code of now, and of one step either side, matches; two steps off does not', async () => {
  const secret = await newTotpSecret(secureRandom);
  // Codes from otpauth itself, independent of our helper.
  const code = (at: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
  assert.equal(totpCode(secret, t0), code(t0));
  assert.equal(await matchTotp(secret, code(t0), t0, null), totpStep(t0));
  assert.equal(await matchTotp(secret, code(t0 - 30_000), t0, null), totpStep(t0) - 1);
  assert.equal(await matchTotp(secret, code(t0 + 30_000), t0, null), totpStep(t0) + 1);
  assert.equal(await matchTotp(secret, code(t0 - 60_000), t0, null), null);
  assert.equal(await matchTotp(secret, code(t0 + 90_000), t0, null), null);
  assert.equal(await matchTotp(await newTotpSecret(secureRandom), code(t0), t0, null), null);
});

test('a step once accepted, and every earlier one, is refused (no replay within the window)', async () => {
  const secret = await newTotpSecret(secureRandom);
  const step = await matchTotp(secret, totpCode(secret, t0), t0, null);
  assert.equal(step, totpStep(t0));
  assert.equal(await matchTotp(secret, totpCode(secret, t0), t0 + 5_000, step), null, 'the same code again');
  assert.equal(await matchTotp(secret, totpCode(secret, t0 - 30_000), t0, step), null, 'an earlier code');
  assert.equal(await matchTotp(secret, totpCode(secret, t0 + 30_000), t0 + 30_000, step), step! + 1, 'the next code');
});

test('codes are six digits; grouping spaces are allowed, anything else is not', () => {
  assert.equal(normalizeTotpCode('123 456'), '123456');
  assert.equal(normalizeTotpCode('123-456'), '123456');
  for (const bad of ['12345', '1234567', 'abcdef', '12345a', '', '١٢٣٤٥٦']) assert.equal(normalizeTotpCode(bad), null, bad);
});

test('recovery codes: ten distinct, readable, hashed in normalized form, salted by the user', () => {
  const codes = newRecoveryCodes(secureRandom);
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const c of codes) assert.match(c, /^[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}$/);
  const hash = hashRecoveryCode('user-a', codes[0]!);
  assert.match(hash!, /^[\w-]{43}$/);
  assert.equal(hashRecoveryCode('user-a', codes[0]!.toUpperCase().replace('-', ' ')), hash);
  assert.notEqual(hashRecoveryCode('user-a', codes[1]!), hash);
  // One code of two users: two hashes (a leaked table is attacked user by user; the key cannot collide).
  assert.notEqual(hashRecoveryCode('user-b', codes[0]!), hash);
  assert.equal(normalizeRecoveryCode('abcde-fghi0'), null, '0 is not in the alphabet');
  assert.equal(hashRecoveryCode('user-a', 'short'), null);
});
