import type { Stores } from '../../core/stores.ts';
import { guardStore, sqliteUnavailableError } from '../store-errors.ts';
import { migrateSqlite, openSqliteDatabase } from './sqlite-database.ts';
import { SqliteAuditLog } from './sqlite-audit-log.ts';
import { SqliteClientStore } from './sqlite-client-store.ts';
import { SqliteCredentialStore } from './sqlite-credential-store.ts';
import { SqliteKeyStore } from './sqlite-key-store.ts';
import { SqliteRevocationLog } from './sqlite-revocation-log.ts';
import { SqliteSessionStore } from './sqlite-session-store.ts';
import { SqliteUserStore } from './sqlite-user-store.ts';

/**
 * The embedded default: every store in one SQLite file (or `:memory:`), through Node's built-in
 * `node:sqlite`. Migrations run on open unless `migrate: false`. Every store method raises
 * `StoreUnavailableError` when the file cannot be used (closed, locked past the busy timeout, I/O).
 */
export function openSqliteStores(path: string, options: { migrate?: boolean } = {}): Stores {
  const db = openSqliteDatabase(path);
  if (options.migrate !== false) migrateSqlite(db);
  // The stores prepare their statements when built, which needs the schema: build them on first
  // use, so that a database opened with `migrate: false` can still be migrated.
  const guard = <T extends object>(make: () => T, group: string): T => guardStore(make, group, sqliteUnavailableError);
  const users = guard(() => new SqliteUserStore(db), 'users');
  const credentials = guard(() => new SqliteCredentialStore(db), 'credentials');
  const sessions = guard(() => new SqliteSessionStore(db), 'sessions');
  const revocations = guard(() => new SqliteRevocationLog(db), 'revocations');
  const keys = guard(() => new SqliteKeyStore(db), 'keys');
  const audit = guard(() => new SqliteAuditLog(db), 'audit');
  const clients = guard(() => new SqliteClientStore(db), 'clients');
  const database = guard(() => ({ ping: async () => void db.prepare('SELECT 1').get() }), 'database');
  return {
    kind: 'sqlite',
    users,
    credentials,
    sessions,
    revocations,
    keys,
    audit,
    clients,
    ping: () => database.ping(),
    async migrate() {
      return migrateSqlite(db);
    },
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
