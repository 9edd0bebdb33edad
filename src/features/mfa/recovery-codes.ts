import { createHash } from 'node:crypto';
import type { RandomSource } from '../../core/ids.ts';

/** How many recovery codes a user gets when TOTP is turned on (and each time they are renewed). */
export const recoveryCodeCount = 10;

/** Letters and digits that cannot be mistaken for one another when copied by hand (no 0/o, 1/l/i). */
const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * New recovery codes: `xxxxx-xxxxx`, 10 characters from a 31-letter alphabet (about 50 bits)
 * each. High entropy and rate limited, so a salted SHA-256 hash is enough to store them (no argon2).
 */
export function newRecoveryCodes(random: RandomSource, count = recoveryCodeCount): string[] {
  const codes: string[] = [];
  while (codes.length < count) {
    const bytes = random(16);
    let text = '';
    // Rejection sampling keeps the letters uniform (248 = 8 × 31).
    for (const b of bytes) if (b < 248 && text.length < 10) text += alphabet[b % 31];
    if (text.length < 10) continue;
    const code = `${text.slice(0, 5)}-${text.slice(5)}`;
    if (!codes.includes(code)) codes.push(code);
  }
  return codes;
}

/** A code as typed, lower-cased with spaces and dashes dropped; null when it cannot be one. */
export function normalizeRecoveryCode(code: string): string | null {
  const plain = code.toLowerCase().replace(/[\s-]/g, '');
  return plain.length === 10 && [...plain].every((c) => alphabet.includes(c)) ? plain : null;
}

/**
 * What is stored of a recovery code: the SHA-256 of the user id and its normalized form, base64url.
 * The user id salts it (ASVS 2.6.2: under 112 bits, a lookup secret is hashed with a unique salt):
 * a leaked table cannot be attacked for every user at once, and two users' equal codes cannot
 * collide on the table's key.
 */
export function hashRecoveryCode(userId: string, code: string): string | null {
  const plain = normalizeRecoveryCode(code);
  return plain === null ? null : createHash('sha256').update(`tokenstile-recovery:${userId}:${plain}`).digest('base64url');
}
