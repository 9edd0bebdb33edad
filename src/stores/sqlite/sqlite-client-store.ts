import type { DatabaseSync } from 'node:sqlite';
import type { ClientStore, StoredClient } from '../../core/client-store.ts';

/** Resource-server clients in SQLite. */
export class SqliteClientStore implements ClientStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async listClients(): Promise<StoredClient[]> {
    const rows = this.#db.prepare('SELECT id, secret_hash, created_at FROM clients ORDER BY created_at, id').all();
    return rows.map((r) => ({ id: r.id as string, secretHash: r.secret_hash as string, createdAt: r.created_at as number }));
  }

  async addClient(c: StoredClient): Promise<boolean> {
    const r = this.#db.prepare('INSERT INTO clients (id, secret_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING').run(c.id, c.secretHash, c.createdAt);
    return r.changes === 1;
  }

  async removeClient(id: string): Promise<boolean> {
    return this.#db.prepare('DELETE FROM clients WHERE id = ?').run(id).changes === 1;
  }
}
