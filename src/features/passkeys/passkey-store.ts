import type { FeatureDatabase } from '../../core/feature.ts';
import { moveCredentialStamp, num, numOrNull, rows, run } from '../mfa/feature-sql.ts';
import type { PasskeyKey } from './webauthn.ts';

/** A stored passkey. Times in ms. */
export interface PasskeyRecord extends PasskeyKey {
  /** Ours (a UUIDv7): what `DELETE /auth/passkeys/:id` names. */
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

type Row = Record<string, unknown>;

const toPasskey = (r: Row): PasskeyRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  credentialId: r.credential_id as string,
  publicKey: r.public_key as string,
  counter: num(r.counter),
  transports: JSON.parse(r.transports as string) as string[],
  name: r.name as string,
  createdAt: num(r.created_at),
  lastUsedAt: numOrNull(r.last_used_at),
});

/** The passkeys feature's storage. Adding or removing a passkey moves the user's credential stamp. */
export class PasskeyStore {
  readonly #db: FeatureDatabase;

  constructor(db: FeatureDatabase) {
    this.#db = db;
  }

  /** The user's passkeys, oldest first. */
  async list(userId: string): Promise<PasskeyRecord[]> {
    return (await rows<Row>(this.#db, 'SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at, id', [userId])).map(toPasskey);
  }

  async byCredentialId(credentialId: string): Promise<PasskeyRecord | null> {
    const [r] = await rows<Row>(this.#db, 'SELECT * FROM passkeys WHERE credential_id = ?', [credentialId]);
    return r ? toPasskey(r) : null;
  }

  /** Adds a passkey and moves the stamp; false (nothing written) when the credential id is taken or the user is gone. */
  async add(p: PasskeyRecord): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      const [taken] = await rows<Row>(db, 'SELECT 1 AS taken FROM passkeys WHERE credential_id = ?', [p.credentialId]);
      if (taken) return false;
      if (!(await moveCredentialStamp(db, p.userId, p.createdAt))) return false;
      await run(db, 'INSERT INTO passkeys (id, user_id, credential_id, public_key, counter, transports, name, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)', [
        p.id, p.userId, p.credentialId, p.publicKey, p.counter, JSON.stringify(p.transports), p.name, p.createdAt,
      ]);
      return true;
    });
  }

  /**
   * Records a use: the counter moves from `from` to `to` only if it is still `from`, so that two
   * racing uses of one assertion (or a cloned authenticator) cannot both pass. False otherwise.
   */
  async used(id: string, from: number, to: number, now: number): Promise<boolean> {
    return (await run(this.#db, 'UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ? AND counter = ?', [to, now, id, from])) === 1;
  }

  /** Renames one passkey of the user; the passkey as it is now, or null when the user has no such passkey. */
  async rename(userId: string, id: string, name: string): Promise<PasskeyRecord | null> {
    if ((await run(this.#db, 'UPDATE passkeys SET name = ? WHERE user_id = ? AND id = ?', [name, userId, id])) !== 1) return null;
    const [r] = await rows<Row>(this.#db, 'SELECT * FROM passkeys WHERE id = ?', [id]);
    return r ? toPasskey(r) : null;
  }

  /** Deletes one passkey of the user and moves the stamp; false when the user has no such passkey. */
  async remove(userId: string, id: string, now: number): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      if ((await run(db, 'DELETE FROM passkeys WHERE user_id = ? AND id = ?', [userId, id])) !== 1) return false;
      await moveCredentialStamp(db, userId, now);
      return true;
    });
  }

  /** Deletes all the user's passkeys (support's `mfa-reset`); moves the stamp when there were any. */
  async removeAll(userId: string, now: number): Promise<number> {
    return this.#db.transaction(async (db) => {
      const n = await run(db, 'DELETE FROM passkeys WHERE user_id = ?', [userId]);
      if (n > 0) await moveCredentialStamp(db, userId, now);
      return n;
    });
  }
}
