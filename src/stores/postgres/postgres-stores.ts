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
import type { FeatureDatabase } from '../../core/feature.ts';
import { PostgresFeatureDatabase } from './postgres-feature-database.ts';
import { PostgresOneTimeTokenStore } from './postgres-one-time-token-store.ts';

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
  const health = guard(() => ({ ping: async () => void (await db.query('SELECT 1')) }), 'database');
  const featureDb = (d: FeatureDatabase) => guard(() => d, 'database');
  return {
    kind: 'postgres',
    users: guard(() => new PostgresUserStore(db), 'users'),
    credentials: guard(() => new PostgresCredentialStore(db), 'credentials'),
    sessions: guard(() => new PostgresSessionStore(db), 'sessions'),
    revocations: guard(() => new PostgresRevocationLog(db), 'revocations'),
    keys: guard(() => new PostgresKeyStore(db), 'keys'),
    audit: guard(() => new PostgresAuditLog(db), 'audit'),
    clients: guard(() => new PostgresClientStore(db), 'clients'),
    oneTimeTokens: guard(() => new PostgresOneTimeTokenStore(db), 'oneTimeTokens'),
    database: featureDb(new PostgresFeatureDatabase(db, featureDb)),
    ping: () => health.ping(),
    migrate: (extra) => db.migrate(extra),
    close: () => db.close(),
  };
}
