import type { JsonWebKey } from '../../core/keys.ts';
import type { KeyStore, SigningKeyChange } from '../../core/key-store.ts';
import type { SigningAlgorithm, StoredSigningKey } from '../../core/keys.ts';
import type { PostgresDatabase } from './postgres-database.ts';

interface KeyRow {
  kid: string;
  alg: SigningAlgorithm;
  private_jwk: JsonWebKey;
  public_jwk: JsonWebKey;
  created_at: number;
  retired_at: number | null;
}

/** Signing keys and server secrets in PostgreSQL. */
export class PostgresKeyStore implements KeyStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const { rows } = await this.#db.query<KeyRow>('SELECT * FROM signing_keys ORDER BY created_at, kid');
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      privateJwk: r.private_jwk,
      publicJwk: r.public_jwk,
      createdAt: r.created_at,
      retiredAt: r.retired_at,
    }));
  }

  async addSigningKey(k: StoredSigningKey): Promise<boolean> {
    // No conflict target: a taken kid and an already active key of the algorithm (the partial
    // unique index) both make it a no-op; a racing insert is waited for, then conflicts.
    const { rowCount } = await this.#db.query(
      `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [k.kid, k.alg, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt, k.retiredAt],
    );
    return rowCount === 1;
  }

  async rotateSigningKey(next: StoredSigningKey, retireAt: number): Promise<boolean> {
    try {
      return await this.#db.transaction(async (query) => {
        // The UPDATE locks the active row: a concurrent rotation waits for this one, then retires nothing
        // (or, if it started after this commit, the key added here: two rotations in a row).
        const retired = await query('UPDATE signing_keys SET retired_at = $1 WHERE alg = $2 AND retired_at IS NULL', [retireAt, next.alg]);
        if (retired.rowCount !== 1) return false;
        const added = await query(
          `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
           VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT DO NOTHING`,
          [next.kid, next.alg, JSON.stringify(next.privateJwk), JSON.stringify(next.publicJwk), next.createdAt],
        );
        if (added.rowCount !== 1) throw new RotationConflict();
        return true;
      });
    } catch (err) {
      if (err instanceof RotationConflict) return false;
      throw err;
    }
  }

  async changeSigningKeys(change: SigningKeyChange): Promise<boolean> {
    try {
      return await this.#db.transaction(async (query) => {
        // Each statement locks the rows it touches: a concurrent change built from the same
        // reading waits, then finds its `from` gone and rolls back whole.
        for (const kid of change.remove) {
          if ((await query('DELETE FROM signing_keys WHERE kid = $1', [kid])).rowCount !== 1) throw new RotationConflict();
        }
        for (const r of change.retire) {
          const updated = await query('UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NOT DISTINCT FROM $3', [r.to, r.kid, r.from]);
          if (updated.rowCount !== 1) throw new RotationConflict();
        }
        for (const k of change.add) {
          const added = await query(
            `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
            [k.kid, k.alg, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt, k.retiredAt],
          );
          if (added.rowCount !== 1) throw new RotationConflict();
        }
        return true;
      });
    } catch (err) {
      if (err instanceof RotationConflict) return false;
      throw err;
    }
  }

  async replacePrivateJwk(kid: string, from: JsonWebKey, to: JsonWebKey): Promise<boolean> {
    const { rowCount } = await this.#db.query('UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2 AND private_jwk = $3::jsonb', [JSON.stringify(to), kid, JSON.stringify(from)]);
    return rowCount === 1;
  }

  async listSecrets(): Promise<Array<{ name: string; value: string }>> {
    const { rows } = await this.#db.query<{ name: string; value: string }>('SELECT name, value FROM secrets ORDER BY name');
    return rows.map((r) => ({ name: r.name, value: r.value }));
  }

  async replaceSecret(name: string, from: string, to: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('UPDATE secrets SET value = $1 WHERE name = $2 AND value = $3', [to, name, from]);
    return rowCount === 1;
  }

  async secret(name: string, create: () => string): Promise<string> {
    const read = async () => {
      const { rows } = await this.#db.query<{ value: string }>('SELECT value FROM secrets WHERE name = $1', [name]);
      return rows[0]?.value;
    };
    const existing = await read();
    if (existing !== undefined) return existing;
    // A racing insert of the same name makes this one wait for it to commit, then do nothing; the
    // SELECT after it (a new statement, so a new snapshot) sees the row that was written first.
    await this.#db.query('INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
      name,
      create(),
      Date.now(),
    ]);
    const value = await read();
    if (value === undefined) throw new Error(`secret ${JSON.stringify(name)} vanished right after it was written`);
    return value;
  }
}

/** Rolls a rotation or key change back when a part of it cannot apply. */
class RotationConflict extends Error {}
