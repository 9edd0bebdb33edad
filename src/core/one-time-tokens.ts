import { createHash } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { RandomSource } from './ids.ts';

/**
 * A one-time token as stored: only the SHA-256 of the token, never the token. Times in ms since
 * the epoch.
 */
export interface OneTimeTokenRecord {
  /** SHA-256 of the whole token text, base64url. */
  readonly hash: string;
  /** What the token is for, such as `password_reset`; a token is only consumed for its purpose. */
  readonly purpose: string;
  /** The user it acts for; null for tokens that name no user yet (a sign-up link). */
  readonly userId: string | null;
  /** What the token is about besides the user (an email address to confirm…), or null. */
  readonly subject: string | null;
  /** The issuer's `data` as JSON text (`null` when none was given). */
  readonly data: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * Durable storage of one-time tokens. `consume` is the "consume exactly once" primitive: the
 * lookup and the delete are one atomic statement, so of any number of concurrent callers with the
 * same token at most one gets the record.
 */
export interface OneTimeTokenStore {
  /**
   * Stores `record`. With `replace`, first deletes every other token of the same user and purpose,
   * in the same transaction (a newer link invalidates the older ones). `replace` with a null
   * `userId` replaces nothing.
   */
  insert(record: OneTimeTokenRecord, replace: boolean): Promise<void>;
  /**
   * Deletes and returns the token with this `hash` if it has this `purpose` and has not expired at
   * `now`; null, deleting nothing, otherwise. Atomic: of two racing callers one wins.
   */
  consume(purpose: string, hash: string, now: number): Promise<OneTimeTokenRecord | null>;
  /** Deletes the user's tokens of these purposes; returns how many went. */
  revokeFor(userId: string, purposes: readonly string[]): Promise<number>;
  /** Housekeeping, in small batches: deletes tokens expired at `now`; returns how many went. */
  purge(now: number): Promise<number>;
}

/** What `OneTimeTokens.consume` gives back of a live token. */
export interface ConsumedToken {
  readonly userId: string | null;
  readonly subject: string | null;
  /** The `data` given to `issue`, as JSON round-trips it (null when none was given). */
  readonly data: unknown;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** What `OneTimeTokens.issue` takes. */
export interface OneTimeTokenRequest {
  /** What the token is for: lower-case letters, digits, `_`, `-`, `.` or `/`, at most 64. */
  readonly purpose: string;
  readonly userId: string | null;
  readonly subject?: string;
  /** JSON-serializable; stored as JSON and handed back by `consume`. Never a secret in clear. */
  readonly data?: unknown;
  /** Lifetime, ms (positive). */
  readonly ttlMs: number;
  /** Deletes the user's other tokens of the same purpose first (a newer one invalidates the older). */
  readonly replace?: boolean;
}

/**
 * High-entropy single-use tokens for links and codes sent out of band (password reset, email
 * verification, magic links…): `tso_` + 32 random bytes, base64url. Only their SHA-256 is stored.
 */
export interface OneTimeTokens {
  /** Issues a token for `purpose`; returns the token text, to be sent and never stored or logged. */
  issue(input: OneTimeTokenRequest): Promise<string>;
  /**
   * Atomically deletes and returns the live record for this purpose and token; of two racing
   * callers one wins, the other gets null (as do expired, unknown, malformed or other-purpose tokens).
   */
  consume(purpose: string, token: string): Promise<ConsumedToken | null>;
  /** Deletes the user's tokens of these purposes (password change, successful sign-in…); returns how many. */
  revokeFor(userId: string, purposes: readonly string[]): Promise<number>;
}

const prefix = 'tso_';
/** `tso_` and 32 bytes in base64url (43 characters, no padding). */
const tokenPattern = /^tso_[A-Za-z0-9_-]{43}$/;
const purposePattern = /^[a-z0-9_./-]{1,64}$/;

/** SHA-256 of a token's text, base64url: what the store keeps. */
export function hashOneTimeToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The one-time tokens of a core, over its store. */
export function createOneTimeTokens(store: OneTimeTokenStore, clock: Clock, random: RandomSource): OneTimeTokens {
  return {
    async issue(input) {
      if (!purposePattern.test(input.purpose)) throw new TypeError('one-time token purpose: lower-case letters, digits, _ - . / only, at most 64');
      if (!(Number.isFinite(input.ttlMs) && input.ttlMs > 0)) throw new TypeError('one-time token ttlMs must be a positive number of milliseconds');
      const token = prefix + random(32).toString('base64url');
      const now = clock.now();
      await store.insert(
        {
          hash: hashOneTimeToken(token),
          purpose: input.purpose,
          userId: input.userId,
          subject: input.subject ?? null,
          data: JSON.stringify(input.data ?? null),
          createdAt: now,
          expiresAt: now + input.ttlMs,
        },
        input.replace === true,
      );
      return token;
    },
    async consume(purpose, token) {
      // Malformed input never reaches the store (and is not hashed).
      if (typeof token !== 'string' || !tokenPattern.test(token) || typeof purpose !== 'string') return null;
      const record = await store.consume(purpose, hashOneTimeToken(token), clock.now());
      if (record === null) return null;
      return { userId: record.userId, subject: record.subject, data: JSON.parse(record.data) as unknown, createdAt: record.createdAt, expiresAt: record.expiresAt };
    },
    revokeFor: (userId, purposes) => (purposes.length === 0 ? Promise.resolve(0) : store.revokeFor(userId, purposes)),
  };
}
