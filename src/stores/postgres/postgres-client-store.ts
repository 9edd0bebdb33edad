import type { ClientStore, StoredClient } from '../../core/client-store.ts';
import type { PostgresDatabase } from './postgres-database.ts';

/** Resource-server clients in PostgreSQL. */
export class PostgresClientStore implements ClientStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  async listClients(): Promise<StoredClient[]> {
    const { rows } = await this.#db.query<{ id: string; secret_hash: string; created_at: string | number }>('SELECT id, secret_hash, created_at FROM clients ORDER BY created_at, id');
    return rows.map((r) => ({ id: r.id, secretHash: r.secret_hash, createdAt: Number(r.created_at) }));
  }

  async addClient(c: StoredClient): Promise<boolean> {
    const { rowCount } = await this.#db.query('INSERT INTO clients (id, secret_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [c.id, c.secretHash, c.createdAt]);
    return rowCount === 1;
  }

  async removeClient(id: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('DELETE FROM clients WHERE id = $1', [id]);
    return rowCount === 1;
  }
}
