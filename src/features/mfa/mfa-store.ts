import type { FeatureDatabase, SignInCarry } from '../../core/feature.ts';
import { moveCredentialStamp, num, numOrNull, rows, run } from './feature-sql.ts';

/** A user's TOTP credential: pending (set up, not yet confirmed) or on. `secret` as stored (sealed or not). */
export interface TotpRecord {
  readonly userId: string;
  readonly secret: string;
  readonly createdAt: number;
  readonly confirmedAt: number | null;
  /** The last time step a code was accepted for; later codes only. */
  readonly lastStep: number | null;
}

/** A pending second-factor sign-in: who, against which credential stamp, by what first factor. */
export interface MfaChallenge {
  readonly userId: string;
  readonly credentialStamp: number;
  readonly amr: readonly string[];
  readonly attempts: number;
  readonly expiresAt: number;
  /** What the sign-in's feature carries to the session the second step starts (`SignInAttempt.carry`). */
  readonly carry: SignInCarry | null;
}

type Row = Record<string, unknown>;

const toTotp = (r: Row): TotpRecord => ({
  userId: r.user_id as string,
  secret: r.secret as string,
  createdAt: num(r.created_at),
  confirmedAt: numOrNull(r.confirmed_at),
  lastStep: numOrNull(r.last_step),
});

/**
 * The MFA feature's storage (its own tables, through the feature database). Every change that
 * turns a second factor on or off moves the user's credential stamp in the same transaction.
 */
export class MfaStore {
  readonly #db: FeatureDatabase;

  constructor(db: FeatureDatabase) {
    this.#db = db;
  }

  async totp(userId: string): Promise<TotpRecord | null> {
    const [r] = await rows<Row>(this.#db, 'SELECT * FROM mfa_totp WHERE user_id = ?', [userId]);
    return r ? toTotp(r) : null;
  }

  /** Whether the user has TOTP on and how many passkeys: one statement, on every password sign-in (the gate). */
  async factors(userId: string): Promise<{ totp: boolean; passkeys: number }> {
    const [r] = await rows<Row>(this.#db, 'SELECT (SELECT COUNT(*) FROM mfa_totp WHERE user_id = ? AND confirmed_at IS NOT NULL) AS totp, (SELECT COUNT(*) FROM passkeys WHERE user_id = ?) AS passkeys', [userId, userId]);
    return { totp: num(r?.totp ?? 0) > 0, passkeys: num(r?.passkeys ?? 0) };
  }

  /** Stores a pending secret, replacing a pending one; false (nothing written) while TOTP is on. */
  async putPending(userId: string, secret: string, now: number): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      await run(db, 'DELETE FROM mfa_totp WHERE user_id = ? AND confirmed_at IS NULL', [userId]);
      const [on] = await rows<Row>(db, 'SELECT 1 AS on_ FROM mfa_totp WHERE user_id = ?', [userId]);
      if (on) return false;
      await run(db, 'INSERT INTO mfa_totp (user_id, secret, created_at, confirmed_at, last_step) VALUES (?, ?, ?, NULL, NULL)', [userId, secret, now]);
      return true;
    });
  }

  /**
   * Turns the pending secret on, with `step` as its first used step and these recovery codes (the
   * user's only ones), and moves the credential stamp: one transaction. False when there was no
   * pending secret created at `createdAt` (confirmed meanwhile, or replaced).
   */
  async confirm(userId: string, createdAt: number, step: number, recoveryHashes: readonly string[], now: number): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      const changed = await run(db, 'UPDATE mfa_totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS NULL AND created_at = ?', [now, step, userId, createdAt]);
      if (changed !== 1) return false;
      await this.#putCodes(db, userId, recoveryHashes, now);
      return moveCredentialStamp(db, userId, now);
    });
  }

  async #putCodes(db: FeatureDatabase, userId: string, hashes: readonly string[], now: number): Promise<void> {
    await run(db, 'DELETE FROM mfa_recovery_codes WHERE user_id = ?', [userId]);
    for (const h of hashes) await run(db, 'INSERT INTO mfa_recovery_codes (code_hash, user_id, created_at) VALUES (?, ?, ?)', [h, userId, now]);
  }

  /** Replaces the user's recovery codes (TOTP on); false when TOTP is not on. */
  async replaceCodes(userId: string, hashes: readonly string[], now: number): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      const [on] = await rows<Row>(db, 'SELECT 1 AS on_ FROM mfa_totp WHERE user_id = ? AND confirmed_at IS NOT NULL', [userId]);
      if (!on) return false;
      await this.#putCodes(db, userId, hashes, now);
      return true;
    });
  }

  /**
   * Records `step` as used when it is later than the last used one (of a confirmed secret): of
   * two racing uses of one code, one wins. False otherwise.
   */
  async useStep(userId: string, step: number): Promise<boolean> {
    return (await run(this.#db, 'UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)', [step, userId, step])) === 1;
  }

  /** Deletes one unused recovery code of the user (single use: of two racing uses, one wins). */
  async useCode(userId: string, hash: string): Promise<boolean> {
    return (await run(this.#db, 'DELETE FROM mfa_recovery_codes WHERE user_id = ? AND code_hash = ?', [userId, hash])) === 1;
  }

  async codesLeft(userId: string): Promise<number> {
    const [r] = await rows<Row>(this.#db, 'SELECT COUNT(*) AS n FROM mfa_recovery_codes WHERE user_id = ?', [userId]);
    return num(r?.n ?? 0);
  }

  /** Turns TOTP off (pending or on) and deletes the recovery codes; moves the stamp when it was on. False when there was nothing. */
  async remove(userId: string, now: number): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      const [r] = await rows<Row>(db, 'SELECT confirmed_at FROM mfa_totp WHERE user_id = ?', [userId]);
      if (!r) return false;
      await run(db, 'DELETE FROM mfa_totp WHERE user_id = ?', [userId]);
      await run(db, 'DELETE FROM mfa_recovery_codes WHERE user_id = ?', [userId]);
      if (r.confirmed_at !== null) await moveCredentialStamp(db, userId, now);
      return r.confirmed_at !== null;
    });
  }

  async addChallenge(hash: string, c: MfaChallenge): Promise<void> {
    await run(this.#db, 'INSERT INTO mfa_challenges (token_hash, user_id, credential_stamp, amr, attempts, expires_at, carry) VALUES (?, ?, ?, ?, 0, ?, ?)', [
      hash, c.userId, c.credentialStamp, c.amr.join(' '), c.expiresAt, c.carry === null ? null : JSON.stringify(c.carry),
    ]);
  }

  /** The live challenge of `hash` (not spent, not expired, attempts left), or null. */
  async challenge(hash: string, now: number, maxAttempts: number): Promise<MfaChallenge | null> {
    const [r] = await rows<Row>(this.#db, 'SELECT * FROM mfa_challenges WHERE token_hash = ? AND expires_at > ? AND attempts < ?', [hash, now, maxAttempts]);
    return r ? { userId: r.user_id as string, credentialStamp: num(r.credential_stamp), amr: (r.amr as string).split(' '), attempts: num(r.attempts), expiresAt: num(r.expires_at), carry: typeof r.carry === 'string' ? (JSON.parse(r.carry) as SignInCarry) : null } : null;
  }

  /**
   * Takes one of a live challenge's attempts before the answer is checked (right or wrong, each
   * try uses one): of racing tries, at most `maxAttempts` get one. False when none is left.
   */
  async takeAttempt(hash: string, now: number, maxAttempts: number): Promise<boolean> {
    return (await run(this.#db, 'UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = ? AND expires_at > ? AND attempts < ?', [hash, now, maxAttempts])) === 1;
  }

  /** Spends an unexpired challenge (after a right answer): true for exactly one of racing callers. */
  async spendChallenge(hash: string, now: number): Promise<boolean> {
    return (await run(this.#db, 'DELETE FROM mfa_challenges WHERE token_hash = ? AND expires_at > ?', [hash, now])) === 1;
  }

  /**
   * Records an attempt of the user (`id`, at `now`) before its answer is checked, and answers how
   * many lie within `windowMs`, this one included: racing attempts all count, so no burst gets past
   * the limit. A right answer takes its attempt back (`release`); a wrong one leaves it counted.
   */
  async reserveAttempt(userId: string, id: string, now: number, windowMs: number): Promise<number> {
    await run(this.#db, 'INSERT INTO mfa_failures (user_id, at, attempt_id) VALUES (?, ?, ?)', [userId, now, id]);
    return this.failures(userId, now, windowMs);
  }

  /** Takes back an attempt recorded by `reserveAttempt` (it was right, or was refused unchecked). */
  async releaseAttempt(id: string): Promise<void> {
    await run(this.#db, 'DELETE FROM mfa_failures WHERE attempt_id = ?', [id]);
  }

  /** Failed (or pending) second-factor attempts of the user within `windowMs` before `now`. */
  async failures(userId: string, now: number, windowMs: number): Promise<number> {
    const [r] = await rows<Row>(this.#db, 'SELECT COUNT(*) AS n FROM mfa_failures WHERE user_id = ? AND at > ?', [userId, now - windowMs]);
    return num(r?.n ?? 0);
  }

  /** The oldest failure within the window (for Retry-After), or null. */
  async oldestFailure(userId: string, now: number, windowMs: number): Promise<number | null> {
    const [r] = await rows<Row>(this.#db, 'SELECT MIN(at) AS at FROM mfa_failures WHERE user_id = ? AND at > ?', [userId, now - windowMs]);
    return numOrNull(r?.at);
  }

  /** Deletes spent-out and expired challenges, and failures older than `failureWindowMs`. */
  async purge(now: number, failureWindowMs: number): Promise<number> {
    return (await run(this.#db, 'DELETE FROM mfa_challenges WHERE expires_at <= ?', [now])) + (await run(this.#db, 'DELETE FROM mfa_failures WHERE at <= ?', [now - failureWindowMs]));
  }
}
