import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { Stores } from '../core/stores.ts';
import type { PostgresStoresOptions } from './postgres/postgres-stores.ts';
import { openSqliteStores } from './sqlite/sqlite-stores.ts';

export const defaultDatabaseUrl = 'sqlite:./data/tokenstile.db';
/** The one SQLite folder `openStores` creates when it is missing: the default database's. */
const defaultSqliteFolder = './data';

/**
 * Opens the stores named by a database URL: `sqlite:PATH` (a file, created if missing; its folder
 * must exist, except the default `./data`, which is created),
 * `sqlite::memory:`, or `postgres://` / `postgresql://` (a PostgreSQL server, libpq URL syntax).
 * Migrations run on open unless `migrate: false`. Throws `ConfigError` with the accepted forms for
 * anything else.
 */
export async function openStores(url: string = defaultDatabaseUrl, options: { migrate?: boolean } = {}): Promise<Stores> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new ConfigError('sqlite database URL needs a path: sqlite:./data/tokenstile.db or sqlite::memory:');
    // A mistyped path must not quietly become a new folder holding a new, empty database.
    const folder = dirname(path);
    if (path !== ':memory:' && !existsSync(folder) && resolve(folder) !== resolve(defaultSqliteFolder)) {
      throw new ConfigError(`the folder ${JSON.stringify(folder)} of the SQLite database does not exist: check the path, or create the folder first (only the default ${defaultSqliteFolder} is created for you)`);
    }
    return openSqliteStores(path, options);
  }
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgresStores(...postgresOptions(url, options));
  throw new ConfigError(
    `database URL must be sqlite:PATH, sqlite::memory: or postgres://USER@HOST/DB, got ${JSON.stringify(redactUrl(url))}`,
  );
}

/**
 * Every store in one PostgreSQL database, for several instances sharing one backend. Migrations
 * run on open unless `migrate: false`; instances starting together take turns (advisory lock).
 * The PostgreSQL modules and the `pg` driver are loaded now, at the first call: a server on
 * SQLite never loads them.
 *
 * @example
 * const stores = await openPostgresStores('postgres://tokenstile@db.internal/auth', { max: 20 });
 */
export async function openPostgresStores(url: string, options: PostgresStoresOptions = {}): Promise<Stores> {
  const postgres = await import('./postgres/postgres-stores.ts');
  return postgres.openPostgresStores(url, options);
}

/**
 * A URL with every password replaced, for messages and logs: the user-info part and libpq's
 * `password=` / `sslpassword=` parameters. Unparseable text keeps only what precedes `//`.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const name of [...u.searchParams.keys()]) if (/password/i.test(name)) u.searchParams.set(name, '***');
    return u.toString();
  } catch {
    const at = url.lastIndexOf('@');
    const scheme = url.indexOf('//');
    const hidden = at > scheme && scheme >= 0 ? `${url.slice(0, scheme + 2)}***${url.slice(at)}` : url;
    return hidden.replace(/(password=)[^&]*/gi, '$1***');
  }
}

/**
 * Reads Tokenstile's own parameters off a PostgreSQL URL: `schema` (tables live there; created if
 * missing) and `max` (pool size, default 10). The rest of the URL goes to the driver as it is.
 */
function postgresOptions(url: string, options: { migrate?: boolean }): [string, { schema?: string; max?: number; migrate?: boolean }] {
  const parsed = new URL(url);
  const out: { schema?: string; max?: number; migrate?: boolean } = { ...options };
  const schema = parsed.searchParams.get('schema');
  if (schema !== null) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new ConfigError(`database URL: schema must be a plain SQL identifier, got ${JSON.stringify(schema)}`);
    out.schema = schema;
    parsed.searchParams.delete('schema');
  }
  const max = parsed.searchParams.get('max');
  if (max !== null) {
    if (!/^\d+$/.test(max) || Number(max) < 1 || Number(max) > 1000) throw new ConfigError(`database URL: max must be a pool size from 1 to 1000, got ${JSON.stringify(max)}`);
    out.max = Number(max);
    parsed.searchParams.delete('max');
  }
  return [parsed.toString(), out];
}
