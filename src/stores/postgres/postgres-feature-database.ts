import type { FeatureDatabase, SqlValue } from '../../core/feature.ts';
import type { PostgresDatabase, Query } from './postgres-database.ts';

/**
 * Features' SQL on the stores' PostgreSQL pool: statements outside a transaction on any pooled
 * connection (autocommit), a transaction on one connection of its own (`PostgresDatabase.transaction`,
 * retried after a deadlock or serialization failure).
 */
export class PostgresFeatureDatabase implements FeatureDatabase {
  readonly dialect = 'postgres' as const;
  readonly #db: PostgresDatabase;
  readonly #query: Query;
  /** Wraps the handle given to a transaction's `fn` (the stores' unavailable-error mapping). */
  readonly #guard: (db: FeatureDatabase) => FeatureDatabase;
  readonly #inTransaction: boolean;

  constructor(db: PostgresDatabase, guard: (db: FeatureDatabase) => FeatureDatabase = (d) => d, transactionQuery?: Query) {
    this.#db = db;
    this.#guard = guard;
    this.#query = transactionQuery ?? db.query;
    this.#inTransaction = transactionQuery !== undefined;
  }

  async query<T = Record<string, unknown>>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.#query(sql, params)).rows as T[];
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.#query(sql, params)).rowCount;
  }

  async transaction<T>(fn: (db: FeatureDatabase) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return fn(this);
    return this.#db.transaction((query) => fn(this.#guard(new PostgresFeatureDatabase(this.#db, this.#guard, query))));
  }
}
