import type { Stores } from '../../core/stores.ts';
import { migrateSqlite, openSqliteDatabase } from './sqlite-database.ts';
import { SqliteKeyStore } from './sqlite-key-store.ts';
import { SqliteSessionStore } from './sqlite-session-store.ts';
import { SqliteUserStore } from './sqlite-user-store.ts';

/**
 * The embedded default: every store in one SQLite file (or `:memory:`), through Node's built-in
 * `node:sqlite`. Migrations run on open unless `migrate: false`.
 */
export function openSqliteStores(path: string, options: { migrate?: boolean } = {}): Stores {
  const db = openSqliteDatabase(path);
  if (options.migrate !== false) migrateSqlite(db);
  return {
    kind: 'sqlite',
    users: new SqliteUserStore(db),
    sessions: new SqliteSessionStore(db),
    keys: new SqliteKeyStore(db),
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async migrate() {
      return migrateSqlite(db);
    },
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
