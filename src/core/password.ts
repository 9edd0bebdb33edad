import { availableParallelism } from 'node:os';
import type { Algorithm } from '@node-rs/argon2';
import { concurrencyLimit } from './concurrency-limit.ts';

// @node-rs/argon2 declares Algorithm as a const enum, which erasable-syntax TypeScript cannot read.
const argon2id = 2 as Algorithm.Argon2id;

let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;

/**
 * @node-rs/argon2, a native module, loaded at the first hash or check: importing Tokenstile (or
 * only verifying tokens) never loads it.
 */
function loadArgon2(): Promise<typeof import('@node-rs/argon2')> {
  return (argon2 ??= import('@node-rs/argon2'));
}

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

/** How many argon2 computations run at once by default: every core but one. */
export function defaultHashConcurrency(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * argon2id through @node-rs/argon2, which runs on libuv's thread pool (off the event loop).
 *
 * At most `maxConcurrent` hashes or verifications run at once (default: one fewer than the cores,
 * at least one); the rest queue. argon2 is CPU-bound by design, and without the limit a burst of
 * logins fills every core and the event loop, which serves every protected request, waits for
 * one. With it, one core stays free for requests; logins queue instead. Unknown emails go through
 * the same queue, so the equal-timing defence holds.
 */
export function createArgon2Hasher(params: Argon2Params = owaspArgon2Params, { maxConcurrent = defaultHashConcurrency() }: { maxConcurrent?: number } = {}): PasswordHasher {
  const options = { algorithm: argon2id, ...params };
  const limited = concurrencyLimit(maxConcurrent);
  return {
    hash: (password) => limited(async () => (await loadArgon2()).hash(password, options)),
    verify: (passwordHash, password) =>
      limited(async () => {
        // Outside the try: a module that cannot load is an error, not a wrong password.
        const { verify } = await loadArgon2();
        try {
          return await verify(passwordHash, password);
        } catch {
          return false;
        }
      }),
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
