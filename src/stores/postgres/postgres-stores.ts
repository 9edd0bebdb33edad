import type { Stores } from '../../core/stores.ts';
import { PostgresDatabase } from './postgres-database.ts';
import { PostgresAuditLog } from './postgres-audit-log.ts';
import { PostgresClientStore } from './postgres-client-store.ts';
import { PostgresCredentialStore } from './postgres-credential-store.ts';
import { PostgresKeyStore } from './postgres-key-store.ts';
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
  return {
    kind: 'postgres',
    users: new PostgresUserStore(db),
    credentials: new PostgresCredentialStore(db),
    sessions: new PostgresSessionStore(db),
    keys: new PostgresKeyStore(db),
    audit: new PostgresAuditLog(db),
    clients: new PostgresClientStore(db),
    async ping() {
      await db.query('SELECT 1');
    },
    migrate: () => db.migrate(),
    close: () => db.close(),
  };
}
