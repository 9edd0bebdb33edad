import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { guardStore, postgresUnavailableError, redisUnavailableError, sqliteUnavailableError } from '../../src/stores/store-errors.ts';

function sqliteError(sql: string): unknown {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (a INTEGER PRIMARY KEY)');
  try {
    db.exec(sql);
  } catch (err) {
    return err;
  } finally {
    db.close();
  }
  throw new Error('no error');
}

test('SQLite: a constraint violation or a syntax error is not "unavailable"; a closed database or SQLITE_BUSY is', () => {
  assert.equal(sqliteUnavailableError(sqliteError('INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)')), false);
  assert.equal(sqliteUnavailableError(sqliteError('SELEC 1')), false);
  const db = new DatabaseSync(':memory:');
  db.close();
  assert.throws(() => db.prepare('SELECT 1'), (err) => sqliteUnavailableError(err));
  assert.equal(sqliteUnavailableError(Object.assign(new Error('database is locked'), { code: 'ERR_SQLITE_ERROR', errcode: 5 })), true);
  assert.equal(sqliteUnavailableError(new TypeError('x is not a function')), false);
});

test('PostgreSQL: connection failures and timeouts are "unavailable"; constraint and syntax errors are not', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', '08006', '57P01', '53300', '57014']) {
    assert.equal(postgresUnavailableError(Object.assign(new Error('x'), { code })), true, code);
  }
  assert.equal(postgresUnavailableError(new Error('Cannot use a pool after calling end on the pool')), true);
  assert.equal(postgresUnavailableError(new Error('timeout exceeded when trying to connect')), true);
  for (const code of ['23505', '42601', '40P01']) assert.equal(postgresUnavailableError(Object.assign(new Error('x'), { code })), false, code);
  assert.equal(postgresUnavailableError(new RangeError('a BIGINT value does not fit')), false);
});

test('Redis: a closed connection and "not now" replies are "unavailable"; WRONGTYPE is not', () => {
  assert.equal(redisUnavailableError(new Error('Connection is closed.')), true);
  const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
  assert.equal(redisUnavailableError(reply('LOADING Redis is loading the dataset in memory')), true);
  assert.equal(redisUnavailableError(reply('WRONGTYPE Operation against a key holding the wrong kind of value')), false);
});

test('guardStore: turns unavailability into StoreUnavailableError with the cause, passes other errors and sync results through', async () => {
  const down = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const bug = new TypeError('bug');
  const store = guardStore(() => ({
    down: async () => { throw down; },
    bug: async () => { throw bug; },
    sync: () => 42,
    field: 'kept',
  }), 'things', postgresUnavailableError);
  await assert.rejects(store.down(), (err: unknown) => {
    assert.ok(err instanceof StoreUnavailableError);
    assert.equal(err.message, 'The store failed during things.down; retry later.');
    assert.equal(err.cause, down);
    assert.doesNotMatch(err.message, /10\.0\.0\.1|ECONNREFUSED/);
    return true;
  });
  await assert.rejects(store.bug(), (err: unknown) => err === bug);
  assert.equal(store.sync(), 42);
  assert.equal(store.field, 'kept');
});

test('guardStore: a method replaced by one that calls the one it replaced runs each once (no recursion)', async () => {
  const store = guardStore(() => ({ count: 0, async bump() { return ++this.count; } }), 'things', postgresUnavailableError);
  const original = store.bump.bind(store);
  let calls = 0;
  store.bump = async () => {
    calls++;
    return original();
  };
  assert.equal(await store.bump(), 1);
  assert.equal(calls, 1);
  assert.equal(store.count, 1);
});
