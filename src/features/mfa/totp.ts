import type { RandomSource } from '../../core/ids.ts';

/**
 * TOTP (RFC 6238) as every authenticator app reads it: HMAC-SHA1, 6 digits, 30-second steps.
 * Built on `otpauth`, loaded on first use (importing the package loads no dependency); what is
 * ours is the replay rule (a time step is accepted once per credential) and the window.
 */
export const totpPeriodSeconds = 30;
const digits = 6;
/** Steps accepted on either side of now: a code typed as it rolls over, or a clock 30 s off. */
const window = 1;

let library: Promise<typeof import('otpauth')> | null = null;
const otpauth = () => (library ??= import('otpauth'));

/** A new shared secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32. */
export async function newTotpSecret(random: RandomSource): Promise<string> {
  const { Secret } = await otpauth();
  return new Secret({ buffer: new Uint8Array(random(20)).buffer }).base32;
}

/**
 * The `otpauth://totp/…` URI an authenticator app scans: labelled `issuer:account`.
 *
 * @example await totpUri('JBSW…', 'Tokenstile', 'ada@example.com')
 */
export async function totpUri(secretBase32: string, issuer: string, account: string): Promise<string> {
  const { Secret, TOTP } = await otpauth();
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits, period: totpPeriodSeconds }).toString();
}

/** The time step of `now` (ms): how many periods since the epoch. */
export function totpStep(now: number): number {
  return Math.floor(now / 1000 / totpPeriodSeconds);
}

/** A code as typed: digits, with spaces or a dash between groups allowed; null when it is not six digits. */
export function normalizeTotpCode(code: string): string | null {
  const plain = code.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(plain) ? plain : null;
}

/**
 * The time step `code` belongs to, when it is right for `secret` at `now` (one step either side)
 * and that step is later than `lastStep`, the last one this credential accepted; otherwise null.
 * Accepting only later steps makes each code (and every earlier one) single use.
 */
export async function matchTotp(secretBase32: string, code: string, now: number, lastStep: number | null): Promise<number | null> {
  const token = normalizeTotpCode(code);
  if (token === null) return null;
  const { Secret, TOTP } = await otpauth();
  const delta = TOTP.validate({ token, secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits, period: totpPeriodSeconds, timestamp: now, window });
  if (delta === null) return null;
  const step = totpStep(now) + delta;
  return lastStep !== null && step <= lastStep ? null : step;
}
