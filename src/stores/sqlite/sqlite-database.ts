import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Migration } from '../../core/feature.ts';
import { sqliteMigrations } from './sqlite-migrations.ts';

/**
 * Opens (creating if needed) a SQLite database with the settings Tokenstile relies on. A new file
 * is created `0600` and new folders `0700`: without a key-encryption key the database holds the
 * private signing keys in the clear. SQLite gives the `-wal` and `-shm` files the mode of the
 * database file. Existing files and folders keep their modes.
 */
export function openSqliteDatabase(path: string): DatabaseSync {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Create the file ourselves: SQLite would create it 0644 (less the umask).
    closeSync(openSync(path, 'a', 0o600));
  }
  const db = new DatabaseSync(path);
  // WAL lets the CLI read and write while the server runs; NORMAL sync in WAL mode survives a
  // process crash (a power cut may lose the last commits). busy_timeout rides out the CLI's writes.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  return db;
}

/**
 * Runs `fn` in an IMMEDIATE transaction (the write lock is taken up front). Inside a feature's open
 * transaction (a store called from its `fn`, see `SqliteLock`), a savepoint of it instead.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) {
    db.exec('SAVEPOINT tokenstile_store');
    try {
      const result = fn();
      db.exec('RELEASE tokenstile_store');
      return result;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK TO tokenstile_store; RELEASE tokenstile_store');
      throw err;
    }
  }
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/** Rows deleted or updated per statement by purges, so that no statement holds the write lock long. */
const purgeBatch = 500;

/**
 * Runs `sql` (whose last parameter is the batch size) until it changes fewer rows than a batch;
 * returns the rows changed. node:sqlite is synchronous: it yields to the event loop between
 * batches so requests keep flowing.
 */
export async function purgeInBatches(db: DatabaseSync, sql: string, ...params: number[]): Promise<number> {
  const statement = db.prepare(sql);
  let total = 0;
  for (;;) {
    const n = Number(statement.run(...params, purgeBatch).changes);
    total += n;
    if (n < purgeBatch) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Applies pending migrations, the core's then `extra` (features'); returns the names applied. */
export function migrateSqlite(db: DatabaseSync, extra: readonly Migration[] = []): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT');
  const applied: string[] = [];
  for (const m of [...sqliteMigrations, ...extra]) {
    transaction(db, () => {
      if (db.prepare('SELECT 1 FROM schema_migrations WHERE name = ?').get(m.name)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(m.name, Date.now());
      applied.push(m.name);
    });
  }
  return applied;
}
