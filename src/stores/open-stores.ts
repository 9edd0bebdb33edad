import { ConfigError } from '../core/errors.ts';
import type { Stores } from '../core/stores.ts';
import { openSqliteStores } from './sqlite/sqlite-stores.ts';

export const defaultDatabaseUrl = 'sqlite:./data/tokenstile.db';

/**
 * Opens the stores named by a database URL: `sqlite:PATH` (a file, created with its folder) or
 * `sqlite::memory:`. Migrations run on open unless `migrate: false`. Throws `ConfigError` with
 * the accepted forms for anything else.
 */
export async function openStores(url: string = defaultDatabaseUrl, options: { migrate?: boolean } = {}): Promise<Stores> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new ConfigError('sqlite database URL needs a path: sqlite:./data/tokenstile.db or sqlite::memory:');
    return openSqliteStores(path, options);
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError('PostgreSQL is not supported by this version yet; use sqlite:PATH (the embedded default)');
  }
  throw new ConfigError(`database URL must be sqlite:PATH or sqlite::memory:, got ${JSON.stringify(redactUrl(url))}`);
}

/** A URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
