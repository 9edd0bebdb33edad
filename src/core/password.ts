import { hash, verify, type Algorithm } from '@node-rs/argon2';

// @node-rs/argon2 declares Algorithm as a const enum, which erasable-syntax TypeScript cannot read.
const argon2id = 2 as Algorithm.Argon2id;

/** Hashes and checks passwords. Implementations must not block the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False (never a throw) for a wrong password or an unreadable hash. */
  verify(passwordHash: string, password: string): Promise<boolean>;
}

/** argon2id parameters; the default is OWASP's first recommendation (m=19 MiB, t=2, p=1). */
export interface Argon2Params {
  /** KiB. Default 19456 (19 MiB). */
  readonly memoryCost: number;
  /** Passes. Default 2. */
  readonly timeCost: number;
  /** Lanes. Default 1. */
  readonly parallelism: number;
}

export const owaspArgon2Params: Argon2Params = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

/** argon2id through @node-rs/argon2, which runs on libuv's thread pool (off the event loop). */
export function createArgon2Hasher(params: Argon2Params = owaspArgon2Params): PasswordHasher {
  const options = { algorithm: argon2id, ...params };
  return {
    hash: (password) => hash(password, options),
    async verify(passwordHash, password) {
      try {
        return await verify(passwordHash, password);
      } catch {
        return false;
      }
    },
  };
}

export const minPasswordLength = 8;
export const maxPasswordLength = 256;

/** Unicode NFKC, so that the same password typed on another keyboard still matches. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * The password policy: 8 to 256 characters (code points) and not all of one class, the classes
 * being letters, digits and everything else.
 */
export function meetsPasswordPolicy(password: string): boolean {
  const chars = [...normalizePassword(password)];
  if (chars.length < minPasswordLength || chars.length > maxPasswordLength) return false;
  let letters = 0;
  let digits = 0;
  for (const ch of chars) {
    if (/\p{L}/u.test(ch)) letters++;
    else if (/\p{Nd}/u.test(ch)) digits++;
  }
  const others = chars.length - letters - digits;
  return [letters, digits, others].filter((n) => n > 0).length >= 2;
}
