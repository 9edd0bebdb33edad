import type { Stores } from '../../core/stores.ts';
import { guardStore, postgresUnavailableError } from '../store-errors.ts';
import { PostgresDatabase } from './postgres-database.ts';
import { PostgresAuditLog } from './postgres-audit-log.ts';
import { PostgresClientStore } from './postgres-client-store.ts';
import { PostgresCredentialStore } from './postgres-credential-store.ts';
import { PostgresKeyStore } from './postgres-key-store.ts';
import { PostgresRevocationLog } from './postgres-revocation-log.ts';
import { PostgresSessionStore } from './postgres-session-store.ts';
import { PostgresUserStore } from './postgres-user-store.ts';

/** Options of `openPostgresStores`. */
export interface PostgresStoresOptions {
  /**
   * Schema holding Tokenstile's tables, created by the migrations and set as the `search_path` of
   * every connection. Default: none, the server's `search_path` (normally `public`).
   */
  readonly schema?: string;
  /** Run pending migrations before resolving. Default: true. */
  readonly migrate?: boolean;
  /** Most connections in the pool. Default: 10. */
  readonly max?: number;
}

/**
 * Every store in one PostgreSQL database, for several instances sharing one backend. Migrations
 * run on open unless `migrate: false`; instances starting together take turns (advisory lock).
 * Every store method raises `StoreUnavailableError` when the server cannot be used (pool closed,
 * connection refused or lost, connect or statement timeout).
 *
 * @example
 * const stores = await openPostgresStores('postgres://tokenstile@db.internal/auth', { max: 20 });
 */
export async function openPostgresStores(url: string, options: PostgresStoresOptions = {}): Promise<Stores> {
  const db = new PostgresDatabase(url, {
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.max === undefined ? {} : { max: options.max }),
  });
  if (options.migrate !== false) {
    try {
      await db.migrate();
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  const guard = <T extends object>(make: () => T, group: string): T => guardStore(make, group, postgresUnavailableError);
  const database = guard(() => ({ ping: async () => void (await db.query('SELECT 1')) }), 'database');
  return {
    kind: 'postgres',
    users: guard(() => new PostgresUserStore(db), 'users'),
    credentials: guard(() => new PostgresCredentialStore(db), 'credentials'),
    sessions: guard(() => new PostgresSessionStore(db), 'sessions'),
    revocations: guard(() => new PostgresRevocationLog(db), 'revocations'),
    keys: guard(() => new PostgresKeyStore(db), 'keys'),
    audit: guard(() => new PostgresAuditLog(db), 'audit'),
    clients: guard(() => new PostgresClientStore(db), 'clients'),
    ping: () => database.ping(),
    migrate: () => db.migrate(),
    close: () => db.close(),
  };
}
