import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Stores } from '../src/core/stores.ts';
import { openPostgresStores } from '../src/stores/postgres/postgres-stores.ts';
import { openSqliteStores } from '../src/stores/sqlite/sqlite-stores.ts';
import { backendGate, testPostgresUrl } from './stores/conformance.ts';

/** A database backend for tests that need an empty one of their own, or to build one by hand. */
export interface DatabaseBackend {
  readonly name: 'sqlite' | 'postgres';
  /**
   * Fresh, migrated (unless `migrate: false`) stores on a database of their own; `close` drops it.
   * `prepare` first runs SQL of its own on the empty database (`run`: a script without
   * parameters on SQLite, one statement with them), e.g. to build an older release's schema.
   */
  open(options?: { migrate?: boolean; prepare?: (run: (sql: string, params?: unknown[]) => Promise<unknown[]>) => Promise<void> }): Promise<Stores>;
}

const sqlite: DatabaseBackend = {
  name: 'sqlite',
  async open(options = {}) {
    const path = `/tmp/tokenstile-test-${process.pid}-${randomBytes(6).toString('hex')}.db`;
    if (options.prepare) {
      const { DatabaseSync } = await import('node:sqlite');
      const db = new DatabaseSync(path);
      try {
        await options.prepare(async (sql, params = []) => {
          // Without parameters, a script (several statements); with them, one statement.
          if (params.length === 0) return (db.exec(sql), []);
          return db.prepare(sql).all(...(params as never[]));
        });
      } finally {
        db.close();
      }
    }
    return openSqliteStores(path, { migrate: options.migrate ?? true });
  },
};

const postgres: DatabaseBackend = {
  name: 'postgres',
  async open(options = {}) {
    const schema = `ts_test_${process.pid}_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: testPostgresUrl, max: 1 });
    try {
      if (options.prepare) {
        await admin.query(`CREATE SCHEMA ${schema}`);
        const client = await admin.connect();
        try {
          await client.query(`SET search_path TO ${schema}`);
          await options.prepare(async (sql, params) => (await client.query(sql, params as unknown[] | undefined)).rows);
        } finally {
          client.release(true);
        }
      }
      const stores = await openPostgresStores(testPostgresUrl, { schema, migrate: options.migrate ?? true, max: 4 });
      return {
        ...Object.fromEntries(Object.entries(Object.getOwnPropertyDescriptors(stores)).map(([k, d]) => [k, d.value])),
        async close() {
          await stores.close();
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await admin.end();
        },
      } as Stores;
    } catch (err) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await admin.end();
      throw err;
    }
  },
};

/**
 * The database backends to run a suite over: SQLite always, PostgreSQL when selected and
 * reachable (see `backendGate`; unreachable under CI is a failing test, not a skip).
 */
export async function databaseBackends(): Promise<DatabaseBackend[]> {
  const gate = await backendGate('postgres');
  if (!gate.run && 'fail' in gate) test('PostgreSQL is reachable', () => assert.fail(gate.fail));
  return gate.run ? [sqlite, postgres] : [sqlite];
}
