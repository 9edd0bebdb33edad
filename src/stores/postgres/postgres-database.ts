import { escapeIdentifier, Pool, TypeOverrides } from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { ConfigError } from '../../core/errors.ts';
import type { Migration } from '../../core/feature.ts';
import {
  appliedMigrationsSql,
  bootstrapSql,
  migrationLockSql,
  postgresMigrations,
  recordMigrationSql,
} from './postgres-migrations.ts';

/** How the PostgreSQL stores connect. */
export interface PostgresDatabaseOptions {
  /**
   * Schema holding every table, set as the `search_path` of each connection and created by
   * `migrate()`. A plain identifier (letters, digits, `_`). Default: none, so the server's
   * `search_path` decides (normally `public`).
   */
  readonly schema?: string;
  /** Most connections the pool opens. Default: 10 (pg's default). */
  readonly max?: number;
}

/** A query on a pool or on the one client of a transaction. */
export type Query = <R extends QueryResultRow = Record<string, unknown>>(
  sql: string,
  params?: readonly unknown[],
) => Promise<{ rows: R[]; rowCount: number }>;

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** SQLSTATEs after which a transaction rolled back as a whole and may simply run again. */
const retryable = new Set(['40P01', '40001']); // deadlock_detected, serialization_failure
const maxAttempts = 3;
/** How long opening a connection may take before the query waiting for it fails. */
const connectTimeoutMs = 5_000;

/**
 * BIGINT holds milliseconds and sequence numbers, all far below 2^53: read them as numbers. The
 * parser belongs to this pool only; pg's global parsers stay as the application left them.
 */
function parseBigint(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError('a BIGINT value does not fit a JavaScript number exactly');
  return n;
}

function runOn(client: Pool | PoolClient): Query {
  return async (sql, params) => {
    const result = await client.query(sql, params === undefined ? undefined : [...params]);
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  };
}

/** Rows deleted or updated per statement by purges, so that no statement holds many row locks for long. */
const purgeBatch = 500;

/**
 * Runs `sql` ($1 is the batch size, then `params`) until it changes fewer rows than a batch;
 * returns the rows changed. Each batch is its own short statement, so its row locks go at once
 * and requests keep flowing in between.
 */
export async function purgeInBatches(db: PostgresDatabase, sql: string, ...params: number[]): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(sql, [purgeBatch, ...params]);
    total += rowCount;
    if (rowCount < purgeBatch) return total;
  }
}

/** A pg pool with Tokenstile's connection settings, transactions and migrations. */
export class PostgresDatabase {
  readonly #pool: Pool;
  readonly #schema: string | null;
  #closed = false;
  /** Runs one statement on any pooled connection (autocommit). */
  readonly query: Query;

  constructor(url: string, options: PostgresDatabaseOptions = {}) {
    const schema = options.schema ?? null;
    if (schema !== null && !identifier.test(schema)) {
      throw new ConfigError('postgres schema must be a plain identifier: letters, digits and _, at most 63');
    }
    if (options.max !== undefined && !(Number.isInteger(options.max) && options.max > 0)) {
      throw new ConfigError('postgres pool size (max) must be a positive integer');
    }
    this.#schema = schema;
    const types = new TypeOverrides();
    types.setTypeParser(20, parseBigint);
    this.#pool = new Pool({
      connectionString: url,
      types,
      // pg waits forever for a connection by default; /readyz and startup should fail instead.
      connectionTimeoutMillis: connectTimeoutMs,
      // A hung query must not hang a poll, a request or close(): every statement is bounded, and
      // dead peers are noticed by TCP keepalive.
      query_timeout: 10_000,
      statement_timeout: 10_000,
      keepAlive: true,
      ...(options.max === undefined ? {} : { max: options.max }),
      // A startup parameter, so every connection has it before its first query, with no extra round trip.
      ...(schema === null ? {} : { options: `-c search_path=${escapeIdentifier(schema)}` }),
    });
    // An idle connection that dies (server restart, network) is dropped by the pool; without a
    // listener its error would crash the process. The next query opens a fresh connection.
    this.#pool.on('error', () => {});
    this.query = runOn(this.#pool);
  }

  /**
   * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it
   * throws. A deadlock or serialization failure rolls back everything, so `fn` runs again (at most
   * three times in all); it must therefore have no effect outside the database.
   */
  async transaction<T>(fn: (query: Query) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(runOn(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is in an unknown state: have the pool destroy it.
          broken = rollbackError as Error;
        }
        const code = (err as { code?: unknown }).code;
        if (attempt >= maxAttempts || typeof code !== 'string' || !retryable.has(code)) throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  /**
   * Applies pending migrations, the core's then `extra` (features'), serialized across processes
   * by an advisory lock; returns the names applied.
   */
  async migrate(extra: readonly Migration[] = []): Promise<string[]> {
    const lockName = `tokenstile:migrate:${this.#schema ?? ''}`;
    const locked = async (query: Query): Promise<Set<string>> => {
      await query(migrationLockSql, [lockName]);
      const { rows } = await query<{ name: string }>(appliedMigrationsSql);
      return new Set(rows.map((r) => r.name));
    };
    await this.transaction(async (query) => {
      await query(migrationLockSql, [lockName]);
      await query(bootstrapSql(this.#schema === null ? null : escapeIdentifier(this.#schema)));
    });
    const applied: string[] = [];
    for (const m of [...postgresMigrations, ...extra]) {
      const ran = await this.transaction(async (query) => {
        // Re-read under the lock: another process may have applied it while this one waited.
        if ((await locked(query)).has(m.name)) return false;
        await query(m.sql);
        await query(recordMigrationSql, [m.name, Date.now()]);
        return true;
      });
      if (ran) applied.push(m.name);
    }
    return applied;
  }

  /** Ends every connection; later queries reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
