// What features rely on, on every backend: one-time tokens (consume exactly once, also under
// concurrency), the feature database (queries, transactions that commit or roll back as a whole),
// feature migrations (applied once, in order, in the core's table), and the account fields of
// migration 0006 (email verification, changeEmail, auth_time).
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Migration } from '../../src/core/feature.ts';
import { hashOneTimeToken, type OneTimeTokenRecord } from '../../src/core/one-time-tokens.ts';
import type { Stores } from '../../src/core/stores.ts';
import { minute, randomHash, sessionRecord, storeTest, t0, userRecord } from './conformance.ts';

function tokenRecord(overrides: Partial<OneTimeTokenRecord> = {}): OneTimeTokenRecord {
  return { hash: randomHash(), purpose: 'password_reset', userId: null, subject: null, data: '{"n":1}', createdAt: t0, expiresAt: t0 + 10 * minute, ...overrides };
}

/** A feature table, in each dialect, with the migrations that make and change it. */
function notesMigrations(dialect: 'sqlite' | 'postgres'): Migration[] {
  const int = dialect === 'sqlite' ? 'INTEGER' : 'bigint';
  return [
    { name: 'notes/0001_notes', sql: `CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL, at ${int} NOT NULL)` },
    { name: 'notes/0002_pinned', sql: `ALTER TABLE notes ADD COLUMN pinned ${int} NOT NULL DEFAULT 0` },
  ];
}

/** `?` or `$n` placeholders, as the dialect wants. */
function marks(stores: Stores, n: number): string[] {
  return Array.from({ length: n }, (_, i) => (stores.database.dialect === 'sqlite' ? '?' : `$${i + 1}`));
}

export function describeFeatureConformance(name: string, open: () => Promise<Stores>): void {
  const it = storeTest(open);

  describe(`${name}: one-time tokens`, () => {
    it('consume returns the record once, only for its purpose and before it expires', async (s) => {
      const user = userRecord('ott@example.com');
      await s.users.create(user);
      const live = tokenRecord({ userId: user.id, subject: 'ott@example.com' });
      await s.oneTimeTokens.insert(live, false);
      assert.equal(await s.oneTimeTokens.consume('email_verify', live.hash, t0), null, 'another purpose');
      assert.equal(await s.oneTimeTokens.consume('password_reset', randomHash(), t0), null, 'unknown');
      assert.equal(await s.oneTimeTokens.consume('password_reset', live.hash, live.expiresAt), null, 'expired');
      assert.deepEqual(await s.oneTimeTokens.consume('password_reset', live.hash, t0 + minute), live);
      assert.equal(await s.oneTimeTokens.consume('password_reset', live.hash, t0 + minute), null, 'spent');
    });

    it('of 20 parallel consumers of one token exactly one gets it', async (s) => {
      const token = tokenRecord();
      await s.oneTimeTokens.insert(token, false);
      const results = await Promise.all(Array.from({ length: 20 }, () => s.oneTimeTokens.consume('password_reset', token.hash, t0)));
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.deepEqual(results.find((r) => r !== null), token);
    });

    it('replace deletes the user\'s other tokens of that purpose only; revokeFor deletes by purpose; purge deletes the expired', async (s) => {
      const user = userRecord('replace@example.com');
      await s.users.create(user);
      const first = tokenRecord({ userId: user.id });
      const other = tokenRecord({ userId: user.id, purpose: 'email_verify' });
      await s.oneTimeTokens.insert(first, false);
      await s.oneTimeTokens.insert(other, false);
      const second = tokenRecord({ userId: user.id });
      await s.oneTimeTokens.insert(second, true);
      assert.equal(await s.oneTimeTokens.consume('password_reset', first.hash, t0), null, 'replaced');
      assert.equal(await s.oneTimeTokens.revokeFor(user.id, ['password_reset', 'magic_link']), 1);
      assert.equal(await s.oneTimeTokens.consume('password_reset', second.hash, t0), null, 'revoked');
      const expired = tokenRecord({ expiresAt: t0 + minute });
      await s.oneTimeTokens.insert(expired, false);
      assert.equal(await s.oneTimeTokens.purge(t0 + minute), 1);
      assert.deepEqual(await s.oneTimeTokens.consume('email_verify', other.hash, t0), other, 'other purposes untouched');
    });

    it('of 10 racing replacing inserts for one user and purpose, exactly one token stays live', async (s) => {
      // Two "forgot password" requests at once must not leave two working links.
      const user = userRecord('race-replace@example.com');
      await s.users.create(user);
      const records = Array.from({ length: 10 }, () => tokenRecord({ userId: user.id }));
      await Promise.all(records.map((r) => s.oneTimeTokens.insert(r, true)));
      const live = (await Promise.all(records.map((r) => s.oneTimeTokens.consume('password_reset', r.hash, t0)))).filter((r) => r !== null);
      assert.equal(live.length, 1);
    });

    it('a user\'s tokens go with the user; the hash is of the whole token text', async (s) => {
      assert.equal(hashOneTimeToken('tso_x'), hashOneTimeToken('tso_x'));
      assert.notEqual(hashOneTimeToken('tso_x'), hashOneTimeToken('tso_y'));
      const user = userRecord('gone@example.com');
      await s.users.create(user);
      await s.oneTimeTokens.insert(tokenRecord({ userId: user.id }), false);
      const [q] = marks(s, 1);
      await s.database.execute(`DELETE FROM users WHERE id = ${q}`, [user.id]);
      assert.deepEqual(await s.database.query('SELECT hash FROM one_time_tokens'), []);
    });
  });

  describe(`${name}: users and sessions for account features`, () => {
    it('changeEmail sets email and verification together; a taken email changes nothing', async (s) => {
      const a = userRecord('a@example.com');
      const b = userRecord('b@example.com');
      await s.users.create(a);
      await s.users.create(b);
      const verified = await s.users.update(a.id, { emailVerifiedAt: t0 + 1 }, t0 + 1);
      assert.equal(verified?.emailVerifiedAt, t0 + 1);
      assert.equal(await s.users.changeEmail(a.id, 'b@example.com', null, t0 + 2), 'email_taken');
      assert.deepEqual(await s.users.byId(a.id), verified);
      const changed = await s.users.changeEmail(a.id, 'new@example.com', null, t0 + 3);
      assert.deepEqual(changed, { ...verified!, email: 'new@example.com', emailVerifiedAt: null, updatedAt: t0 + 3 });
      assert.equal(await s.users.changeEmail(userRecord('x@example.com').id, 'y@example.com', null, t0), null);
    });

    it('setAuthTime moves a live session\'s authTime (and amr when given); an ended session keeps its own', async (s) => {
      const user = userRecord('auth-time@example.com');
      await s.users.create(user);
      const live = sessionRecord(user.id, t0);
      const ended = sessionRecord(user.id, t0 + 1);
      await s.sessions.create(live, 0);
      await s.sessions.create(ended, 0);
      await s.sessions.revoke({ sessionId: ended.id }, t0 + 2, minute);
      assert.equal(await s.sessions.setAuthTime(live.id, t0 + 5 * minute), true);
      assert.deepEqual(await s.sessions.get(live.id), { ...live, authTime: t0 + 5 * minute });
      assert.equal(await s.sessions.setAuthTime(live.id, t0 + 6 * minute, ['pwd', 'otp', 'mfa']), true);
      assert.deepEqual((await s.sessions.get(live.id))?.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(await s.sessions.setAuthTime(ended.id, t0 + 5 * minute), false);
      assert.equal((await s.sessions.get(ended.id))?.authTime, ended.authTime);
    });
  });

  describe(`${name}: feature database and migrations`, () => {
    it('feature migrations apply after the core\'s, once each, in order, in the same table', async (s) => {
      const migrations = notesMigrations(s.database.dialect);
      assert.deepEqual(await s.migrate(migrations), ['notes/0001_notes', 'notes/0002_pinned']);
      assert.deepEqual(await s.migrate(migrations), []);
      const more = [...migrations, { name: 'notes/0003_index', sql: 'CREATE INDEX notes_by_at ON notes (at)' }];
      assert.deepEqual(await s.migrate(more), ['notes/0003_index']);
      const rows = await s.database.query<{ name: string }>("SELECT name FROM schema_migrations WHERE name LIKE 'notes/%' ORDER BY name");
      assert.deepEqual(rows.map((r) => r.name), ['notes/0001_notes', 'notes/0002_pinned', 'notes/0003_index']);
    });

    it('query and execute use the dialect\'s placeholders; times come back as numbers', async (s) => {
      await s.migrate(notesMigrations(s.database.dialect));
      const [a, b, c] = marks(s, 3);
      assert.equal(await s.database.execute(`INSERT INTO notes (id, body, at) VALUES (${a}, ${b}, ${c})`, ['n1', 'hello', t0]), 1);
      assert.deepEqual(await s.database.query(`SELECT id, body, at, pinned FROM notes WHERE id = ${a}`, ['n1']), [{ id: 'n1', body: 'hello', at: t0, pinned: 0 }]);
      assert.equal(await s.database.execute(`UPDATE notes SET pinned = 1 WHERE id = ${a}`, ['nobody']), 0);
    });

    it('a transaction commits as a whole, or rolls back as a whole when fn throws', async (s) => {
      await s.migrate(notesMigrations(s.database.dialect));
      const [a, b, c] = marks(s, 3);
      const insert = `INSERT INTO notes (id, body, at) VALUES (${a}, ${b}, ${c})`;
      await s.database.transaction(async (db) => {
        await db.execute(insert, ['kept', 'x', t0]);
        // Nested: the same transaction.
        await db.transaction(async (inner) => inner.execute(insert, ['kept too', 'x', t0]));
      });
      await assert.rejects(
        s.database.transaction(async (db) => {
          await db.execute(insert, ['lost', 'x', t0]);
          throw new Error('the feature changed its mind');
        }),
        /changed its mind/,
      );
      const rows = await s.database.query<{ id: string }>('SELECT id FROM notes ORDER BY id');
      assert.deepEqual(rows.map((r) => r.id), ['kept', 'kept too']);
    });

    it('statements of other requests never land inside an open transaction', async (s) => {
      await s.migrate(notesMigrations(s.database.dialect));
      const [a, b, c] = marks(s, 3);
      const insert = `INSERT INTO notes (id, body, at) VALUES (${a}, ${b}, ${c})`;
      let inside!: () => void;
      const opened = new Promise<void>((resolve) => (inside = resolve));
      let finish!: () => void;
      const held = new Promise<void>((resolve) => (finish = resolve));
      const tx = s.database.transaction(async (db) => {
        await db.execute(insert, ['in-tx', 'x', t0]);
        inside();
        await held;
        throw new Error('rolled back');
      });
      await opened;
      // Another request, while the transaction is open: a store write and a feature write.
      const user = userRecord('outside@example.com');
      const outside = Promise.all([s.users.create(user), s.database.execute(insert, ['outside', 'x', t0])]);
      finish();
      await assert.rejects(tx, /rolled back/);
      await outside;
      const rows = await s.database.query<{ id: string }>('SELECT id FROM notes ORDER BY id');
      assert.deepEqual(rows.map((r) => r.id), ['outside'], 'the rollback took only its own write');
      assert.notEqual(await s.users.byEmail('outside@example.com'), null);
    });

    it('a consume-once in a feature transaction: of parallel consumers one wins', async (s) => {
      await s.migrate(notesMigrations(s.database.dialect));
      const [a, b, c] = marks(s, 3);
      await s.database.execute(`INSERT INTO notes (id, body, at) VALUES (${a}, ${b}, ${c})`, ['code', 'x', t0]);
      const won = await Promise.all(
        Array.from({ length: 10 }, () => s.database.transaction(async (db) => (await db.query(`DELETE FROM notes WHERE id = ${a} RETURNING id`, ['code'])).length)),
      );
      assert.equal(won.reduce((x, y) => x + y, 0), 1);
    });
  });
}
