import type { Stores } from '../../core/stores.ts';
import { migrateSqlite, openSqliteDatabase } from './sqlite-database.ts';
import { SqliteAuditLog } from './sqlite-audit-log.ts';
import { SqliteClientStore } from './sqlite-client-store.ts';
import { SqliteCredentialStore } from './sqlite-credential-store.ts';
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
  // The stores prepare their statements when built, which needs the schema: build them on first
  // use, so that a database opened with `migrate: false` can still be migrated.
  let users: SqliteUserStore | undefined;
  let credentials: SqliteCredentialStore | undefined;
  let sessions: SqliteSessionStore | undefined;
  let keys: SqliteKeyStore | undefined;
  let audit: SqliteAuditLog | undefined;
  let clients: SqliteClientStore | undefined;
  return {
    kind: 'sqlite',
    get users() {
      return (users ??= new SqliteUserStore(db));
    },
    get credentials() {
      return (credentials ??= new SqliteCredentialStore(db));
    },
    get sessions() {
      return (sessions ??= new SqliteSessionStore(db));
    },
    get keys() {
      return (keys ??= new SqliteKeyStore(db));
    },
    get audit() {
      return (audit ??= new SqliteAuditLog(db));
    },
    get clients() {
      return (clients ??= new SqliteClientStore(db));
    },
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
