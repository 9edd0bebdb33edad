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
import type { FeatureDatabase } from '../../core/feature.ts';
import { SqliteFeatureDatabase } from './sqlite-feature-database.ts';
import { SqliteLock } from './sqlite-lock.ts';
import { SqliteOneTimeTokenStore } from './sqlite-one-time-token-store.ts';

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
  // Every store call waits while a feature's transaction is open on the shared connection.
  const lock = new SqliteLock();
  const guard = <T extends object>(make: () => T, group: string): T => guardStore(make, group, sqliteUnavailableError);
  const store = <T extends object>(make: () => T, group: string): T => guard(() => lock.serialize(make()), group);
  const users = store(() => new SqliteUserStore(db), 'users');
  const credentials = store(() => new SqliteCredentialStore(db), 'credentials');
  const sessions = store(() => new SqliteSessionStore(db), 'sessions');
  const revocations = store(() => new SqliteRevocationLog(db), 'revocations');
  const keys = store(() => new SqliteKeyStore(db), 'keys');
  const audit = store(() => new SqliteAuditLog(db), 'audit');
  const clients = store(() => new SqliteClientStore(db), 'clients');
  const oneTimeTokens = store(() => new SqliteOneTimeTokenStore(db), 'oneTimeTokens');
  const featureDb = (d: FeatureDatabase) => guard(() => d, 'database');
  const database = featureDb(new SqliteFeatureDatabase(db, lock, featureDb));
  const health = guard(() => ({ ping: async () => void db.prepare('SELECT 1').get() }), 'database');
  return {
    kind: 'sqlite',
    users,
    credentials,
    sessions,
    revocations,
    keys,
    audit,
    clients,
    oneTimeTokens,
    database,
    ping: () => health.ping(),
    migrate: (extra = []) => lock.run(async () => migrateSqlite(db, extra)),
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
