import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { FeatureDatabase, SqlValue } from '../../core/feature.ts';
import type { SqliteLock } from './sqlite-lock.ts';

/** Most distinct statements kept prepared; features use a handful each. */
const maxPrepared = 256;

/** node:sqlite binds no booleans: 1 and 0, as SQLite stores them. */
function bind(params: readonly SqlValue[]): SQLInputValue[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/**
 * Features' SQL on the stores' SQLite connection. A transaction holds `lock` from BEGIN IMMEDIATE
 * to COMMIT or ROLLBACK, so no other statement runs inside it; statements outside transactions
 * wait for an open one to end.
 */
export class SqliteFeatureDatabase implements FeatureDatabase {
  readonly dialect = 'sqlite' as const;
  readonly #db: DatabaseSync;
  readonly #lock: SqliteLock;
  readonly #prepared: Map<string, StatementSync>;
  /** Wraps the handle given to a transaction's `fn` (the stores' unavailable-error mapping). */
  readonly #guard: (db: FeatureDatabase) => FeatureDatabase;
  /** True for the handle given to a transaction's `fn`: its statements run inside it. */
  readonly #inTransaction: boolean;

  constructor(
    db: DatabaseSync,
    lock: SqliteLock,
    guard: (db: FeatureDatabase) => FeatureDatabase = (d) => d,
    inside?: { readonly prepared: Map<string, StatementSync> },
  ) {
    this.#db = db;
    this.#lock = lock;
    this.#guard = guard;
    this.#inTransaction = inside !== undefined;
    this.#prepared = inside?.prepared ?? new Map();
  }

  #statement(sql: string): StatementSync {
    let statement = this.#prepared.get(sql);
    if (statement === undefined) {
      if (this.#prepared.size >= maxPrepared) this.#prepared.clear();
      statement = this.#db.prepare(sql);
      this.#prepared.set(sql, statement);
    }
    return statement;
  }

  #now<T>(fn: () => T): Promise<T> {
    // Inside its transaction a statement runs at once; outside, in turn with the lock.
    return this.#inTransaction ? Promise.resolve().then(fn) : this.#lock.run(async () => fn());
  }

  query<T = Record<string, unknown>>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    // Plain objects (node:sqlite gives null-prototype rows), as pg gives.
    return this.#now(() => this.#statement(sql).all(...bind(params)).map((row) => ({ ...row }) as T));
  }

  execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.#now(() => Number(this.#statement(sql).run(...bind(params)).changes));
  }

  async transaction<T>(fn: (db: FeatureDatabase) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return fn(this);
    return this.#lock.hold(async () => {
      const db = this.#db;
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#guard(new SqliteFeatureDatabase(db, this.#lock, this.#guard, { prepared: this.#prepared })));
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.isOpen && db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
    });
  }
}
