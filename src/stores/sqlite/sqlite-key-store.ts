import type { JsonWebKey } from '../../core/keys.ts';
import type { DatabaseSync } from 'node:sqlite';
import type { KeyStore, SigningKeyChange } from '../../core/key-store.ts';
import type { SigningAlgorithm, StoredSigningKey } from '../../core/keys.ts';
import { transaction } from './sqlite-database.ts';

/** Signing keys and server secrets in SQLite. */
export class SqliteKeyStore implements KeyStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const rows = this.#db.prepare('SELECT * FROM signing_keys ORDER BY created_at, kid').all();
    return rows.map((r) => ({
      kid: r.kid as string,
      alg: r.alg as SigningAlgorithm,
      privateJwk: JSON.parse(r.private_jwk as string),
      publicJwk: JSON.parse(r.public_jwk as string),
      createdAt: r.created_at as number,
      retiredAt: (r.retired_at as number | null) ?? null,
    }));
  }

  async addSigningKey(k: StoredSigningKey): Promise<boolean> {
    // No conflict target: a taken kid and an already active key of the algorithm both skip.
    const r = this.#db
      .prepare(
        `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .run(k.kid, k.alg, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt, k.retiredAt);
    return r.changes === 1;
  }

  async rotateSigningKey(next: StoredSigningKey, retireAt: number): Promise<boolean> {
    try {
      return this.#rotate(next, retireAt);
    } catch (err) {
      if (err instanceof RotationConflict) return false;
      throw err;
    }
  }

  #rotate(next: StoredSigningKey, retireAt: number): boolean {
    return transaction(this.#db, () => {
      const retired = this.#db.prepare('UPDATE signing_keys SET retired_at = ? WHERE alg = ? AND retired_at IS NULL').run(retireAt, next.alg);
      if (retired.changes !== 1) return false;
      const added = this.#db
        .prepare(
          `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
           VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING`,
        )
        .run(next.kid, next.alg, JSON.stringify(next.privateJwk), JSON.stringify(next.publicJwk), next.createdAt);
      // A taken kid: undo the retirement with the rest of the transaction.
      if (added.changes !== 1) throw new RotationConflict();
      return true;
    });
  }

  async changeSigningKeys(change: SigningKeyChange): Promise<boolean> {
    try {
      return transaction(this.#db, () => {
        for (const kid of change.remove) {
          if (this.#db.prepare('DELETE FROM signing_keys WHERE kid = ?').run(kid).changes !== 1) throw new RotationConflict();
        }
        for (const r of change.retire) {
          const updated = this.#db.prepare('UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS ?').run(r.to, r.kid, r.from);
          if (updated.changes !== 1) throw new RotationConflict();
        }
        for (const k of change.add) {
          const added = this.#db
            .prepare(
              `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
               VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
            )
            .run(k.kid, k.alg, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt, k.retiredAt);
          if (added.changes !== 1) throw new RotationConflict();
        }
        return true;
      });
    } catch (err) {
      if (err instanceof RotationConflict) return false;
      throw err;
    }
  }

  async replacePrivateJwk(kid: string, from: JsonWebKey, to: JsonWebKey): Promise<boolean> {
    // The stored text is JSON.stringify of what was added, and listSigningKeys parses it: the
    // same value stringifies back to the same text.
    return this.#overwrite(() => this.#db.prepare('UPDATE signing_keys SET private_jwk = ? WHERE kid = ? AND private_jwk = ?').run(JSON.stringify(to), kid, JSON.stringify(from)).changes);
  }

  /**
   * Runs an update that replaces a plaintext value, so that the old bytes leave the files too:
   * secure_delete zeroes the space the old value took in its page, and a TRUNCATE checkpoint
   * moves the new pages into the database file and empties the WAL, where earlier frames still
   * hold the old ones (best effort: a reader of an old snapshot, such as a running server in the
   * middle of a read, can hold the WAL back until the next checkpoint).
   */
  #overwrite(update: () => number | bigint): boolean {
    this.#db.exec('PRAGMA secure_delete = ON');
    if (Number(update()) !== 1) return false;
    this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return true;
  }

  async listSecrets(): Promise<Array<{ name: string; value: string }>> {
    return this.#db.prepare('SELECT name, value FROM secrets ORDER BY name').all().map((r) => ({ name: r.name as string, value: r.value as string }));
  }

  async replaceSecret(name: string, from: string, to: string): Promise<boolean> {
    return this.#overwrite(() => this.#db.prepare('UPDATE secrets SET value = ? WHERE name = ? AND value = ?').run(to, name, from).changes);
  }

  async secret(name: string, create: () => string): Promise<string> {
    const select = this.#db.prepare('SELECT value FROM secrets WHERE name = ?');
    const existing = select.get(name);
    if (existing) return existing.value as string;
    // Another process may insert first; whichever row was written first is everyone's answer.
    this.#db
      .prepare('INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING')
      .run(name, create(), Date.now());
    return select.get(name)?.value as string;
  }
}

/** Rolls a rotation or key change back when a part of it cannot apply. */
class RotationConflict extends Error {}
