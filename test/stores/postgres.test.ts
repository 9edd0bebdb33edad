import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { generateSigningKey } from '../../src/core/keys.ts';
import type { Stores } from '../../src/core/stores.ts';
import type { UserRecord } from '../../src/core/user-store.ts';
import { postgresMigrations } from '../../src/stores/postgres/postgres-migrations.ts';
import { openPostgresStores } from '../../src/stores/postgres/postgres-stores.ts';
import { openStores } from '../../src/stores/open-stores.ts';
import { describeSessionConformance } from './conformance-sessions.ts';
import { describeFeatureConformance } from './conformance-features.ts';
import { backendGate, day, describeStoreConformance, minute, sessionRecord, t0, testPostgresUrl, userRecord, assertDataSurvivesReopen } from './conformance.ts';

const headroom = 5 * minute;
const gate = await backendGate('postgres');

if (!gate.run && 'fail' in gate) {
  test('PostgreSQL is reachable (required when CI=true or when TOKENSTILE_TEST_BACKENDS names it)', () => {
    assert.fail(gate.fail);
  });
} else {
  describe('PostgreSQL stores', { skip: gate.run ? false : gate.skip }, () => {
    // Every test works in a schema of its own, dropped afterwards, so parallel runs never meet.
    let admin: pg.Pool | undefined;
    const adminPool = () => (admin ??= new pg.Pool({ connectionString: testPostgresUrl, max: 2 }));
    const created = new Set<string>();
    after(async () => {
      for (const schema of created) await dropSchema(schema);
      await admin?.end();
    });

    function freshSchema(): string {
      const schema = `ts_test_${process.pid}_${randomBytes(6).toString('hex')}`;
      created.add(schema);
      return schema;
    }

    async function dropSchema(schema: string): Promise<void> {
      await adminPool().query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      created.delete(schema);
    }

    /** `n` instances (pools) on one fresh schema, and a close that ends them all and drops it. */
    async function fleet(n: number, options: { migrate?: boolean } = {}) {
      const schema = freshSchema();
      const all: Stores[] = [];
      for (let i = 0; i < n; i++) all.push(await openPostgresStores(testPostgresUrl, { schema, ...options }));
      const close = async () => {
        for (const s of all) await s.close();
        await dropSchema(schema);
      };
      return { schema, all, first: all[0]!, close };
    }

    /** Fresh, migrated stores whose close() also drops their schema (for the conformance suites). */
    async function openFresh(): Promise<Stores> {
      const { first: s, close } = await fleet(1);
      return {
        kind: s.kind, users: s.users, credentials: s.credentials, sessions: s.sessions, revocations: s.revocations, keys: s.keys, audit: s.audit, clients: s.clients,
        oneTimeTokens: s.oneTimeTokens, database: s.database,
        ping: () => s.ping(), migrate: (extra) => s.migrate(extra), close,
      };
    }

    /** A plain connection to `schema`, for holding a transaction open beside the stores. */
    async function connect(schema: string): Promise<pg.Client> {
      const client = new pg.Client({ connectionString: testPostgresUrl, options: `-c search_path=${pg.escapeIdentifier(schema)}` });
      await client.connect();
      return client;
    }

    async function userWithSessions(stores: Stores, email: string, count: number) {
      const user = userRecord(email);
      assert.equal(await stores.users.create(user), true);
      const sessions = Array.from({ length: count }, (_, i) => sessionRecord(user.id, t0 + i));
      for (const s of sessions) assert.equal(await stores.sessions.create(s, user.credentialStamp), true);
      return { user, sessions };
    }

    /** What `revoke` would write for `sessionId`, inserted on `client` (inside its open transaction); returns the seq. */
    async function insertRevocation(client: pg.Client, sessionId: string, userId: string, at: number): Promise<number> {
      const { rows } = await client.query<{ seq: string }>(
        `INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at)
         VALUES ('session', $1, $2, $3, $4) RETURNING seq`,
        [sessionId, userId, at, t0 + 20 * minute + headroom],
      );
      return Number(rows[0]!.seq);
    }

    async function seqOf(schema: string, sessionId: string): Promise<number> {
      const { rows } = await adminPool().query(`SELECT seq FROM ${pg.escapeIdentifier(schema)}.revocations WHERE subject = $1`, [sessionId]);
      return Number(rows[0].seq);
    }

    describeStoreConformance('postgres', openFresh);
    describeSessionConformance('postgres', openFresh);
    describeFeatureConformance('postgres', openFresh);

    test('openStores opens postgres:// and postgresql:// URLs on PostgreSQL', async () => {
      for (const scheme of ['postgres:', 'postgresql:']) {
        const url = testPostgresUrl.replace(/^postgres(ql)?:/, scheme);
        const stores = await openStores(url, { migrate: false });
        try {
          assert.equal(stores.kind, 'postgres');
          await stores.ping();
        } finally {
          await stores.close();
        }
      }
    });

    test('BIGINT comes back as a number on the stores\' pool while pg\'s global parser is left alone', async () => {
      const { first: s, close } = await fleet(1);
      try {
        const user = { ...userRecord('big@example.com'), createdAt: 2 ** 52, updatedAt: 2 ** 53 - 1 };
        await s.users.create(user);
        assert.deepEqual(await s.users.byId(user.id), user);
        const { rows } = await adminPool().query('SELECT 9007199254740993::bigint AS n');
        assert.equal(rows[0].n, '9007199254740993', 'a plain pool still reads BIGINT as a string');
      } finally {
        await close();
      }
    });

    describe('revocation feed with out-of-order commits', () => {
      test('a revocation whose seq committed after a later one is still delivered', async () => {
        const { schema, first: s, close } = await fleet(1);
        const held = await connect(schema);
        try {
          const { user, sessions: [a, b] } = await userWithSessions(s, 'order@example.com', 2);
          const now = t0 + minute;
          const start = await s.revocations.revocationsSince(null, now);
          // Connection 1 draws seq N and keeps its transaction open; the store commits N+1 meanwhile.
          await held.query('BEGIN');
          await held.query('UPDATE sessions SET revoked_at = $1 WHERE id = $2', [now, a!.id]);
          const n = await insertRevocation(held, a!.id, user.id, now);
          const [rb] = await s.sessions.revoke({ sessionId: b!.id }, now, headroom);
          assert.equal(await seqOf(schema, b!.id), n + 1, 'the later seq is visible while the earlier is not');
          const first = await s.revocations.revocationsSince(start.cursor, now);
          assert.deepEqual(first.revocations, [rb], 'N+1 arrives; a poller asking for seq > N+1 from now on would never see N');
          await held.query('COMMIT');
          const second = await s.revocations.revocationsSince(first.cursor, now + 1000);
          assert.deepEqual(second.revocations, [{ kind: 'session', id: a!.id, userId: user.id, revokedAt: now, expiresAt: t0 + 20 * minute + headroom }]);
          const third = await s.revocations.revocationsSince(second.cursor, now + 2000);
          assert.deepEqual(third, { revocations: [], cursor: second.cursor, more: false }, 'delivered once; nothing left to wait for');
        } finally {
          await held.end();
          await close();
        }
      });

      test('a hole left by a rolled-back insert stops holding the cursor once no transaction could fill it', async () => {
        const { schema, first: s, close } = await fleet(1);
        const rolledBack = await connect(schema);
        try {
          const { user, sessions: [a, b] } = await userWithSessions(s, 'hole@example.com', 2);
          const now = t0 + minute;
          const start = await s.revocations.revocationsSince(null, now);
          await rolledBack.query('BEGIN');
          await insertRevocation(rolledBack, a!.id, user.id, now);
          await rolledBack.query('ROLLBACK');
          const [rb] = await s.sessions.revoke({ sessionId: b!.id }, now, headroom);
          const seen = await s.revocations.revocationsSince(start.cursor, now);
          assert.deepEqual(seen.revocations, [rb]);
          // No clock: the very same `now`, and the hole goes as soon as a snapshot shows nothing could
          // fill it. Snapshots span the whole server: a transaction of another suite (npm test runs
          // files side by side on the shared PostgreSQL) may hold it for a moment, hence the bounded wait.
          let next = await s.revocations.revocationsSince(seen.cursor, now);
          for (const deadline = Date.now() + 20_000; JSON.parse(next.cursor).gaps.length > 0 && Date.now() < deadline; ) {
            assert.deepEqual(next.revocations, []);
            await new Promise((resolve) => setTimeout(resolve, 50));
            next = await s.revocations.revocationsSince(next.cursor, now);
          }
          assert.deepEqual(next.revocations, []);
          assert.deepEqual(JSON.parse(next.cursor).gaps, [], 'the hole is no longer asked for');
          assert.deepEqual(await s.revocations.revocationsSince(next.cursor, now), { revocations: [], cursor: next.cursor, more: false });
        } finally {
          await rolledBack.end();
          await close();
        }
      });

      test('a transaction held open for 15 minutes of `now` still has its revocation delivered when it commits', async () => {
        const { schema, first: s, close } = await fleet(1);
        const slow = await connect(schema);
        try {
          const { user, sessions: [a, b] } = await userWithSessions(s, 'slow@example.com', 2);
          const now = t0 + minute;
          const start = await s.revocations.revocationsSince(null, now);
          await slow.query('BEGIN');
          await insertRevocation(slow, a!.id, user.id, now);
          await s.sessions.revoke({ sessionId: b!.id }, now, headroom);
          let cursor = (await s.revocations.revocationsSince(start.cursor, now)).cursor;
          // Well past any time-based patience, still within the revocation's own lifetime.
          for (const later of [now + 10_000, now + 15 * minute]) {
            const waiting = await s.revocations.revocationsSince(cursor, later);
            assert.deepEqual(waiting.revocations, []);
            assert.equal(JSON.parse(waiting.cursor).gaps.length, 1, 'still waiting for the open transaction');
            cursor = waiting.cursor;
          }
          await slow.query('COMMIT');
          const delivered = await s.revocations.revocationsSince(cursor, now + 15 * minute);
          assert.deepEqual(delivered.revocations.map((r) => r.id), [a!.id]);
          assert.deepEqual(JSON.parse(delivered.cursor).gaps, []);
        } finally {
          await slow.end();
          await close();
        }
      });

      test('a cursor made while an earlier seq is in flight still delivers it (start-up has no blind spot)', async () => {
        const { schema, first: s, close } = await fleet(1);
        const held = await connect(schema);
        try {
          const { user, sessions: [a, b] } = await userWithSessions(s, 'start@example.com', 2);
          const now = t0 + minute;
          await held.query('BEGIN');
          await insertRevocation(held, a!.id, user.id, now);
          const [rb] = await s.sessions.revoke({ sessionId: b!.id }, now, headroom);
          // What createTokenstile does: the cursor first, then the snapshot of live revocations.
          const start = await s.revocations.revocationsSince(null, now);
          assert.deepEqual(await s.revocations.liveRevocations(now), [rb]);
          await held.query('COMMIT');
          const next = await s.revocations.revocationsSince(start.cursor, now + 1000);
          assert.deepEqual(next.revocations.map((r) => r.id), [a!.id]);
        } finally {
          await held.end();
          await close();
        }
      });

      test('a hole filled by more rows than one poll reads is drained over polls, not given up', async () => {
        const { schema, first: s, close } = await fleet(1);
        const bulk = await connect(schema);
        try {
          const { user, sessions: [a, b] } = await userWithSessions(s, 'bulk@example.com', 2);
          const now = t0 + minute;
          const start = await s.revocations.revocationsSince(null, now);
          await bulk.query('BEGIN');
          await bulk.query(
            `INSERT INTO revocations (kind, subject, user_id, revoked_at, expires_at)
             SELECT 'session', $1 || '-' || i, $2, $3, $4 FROM generate_series(1, 10001) AS i`,
            [a!.id, user.id, now, now + day],
          );
          await s.sessions.revoke({ sessionId: b!.id }, now, headroom);
          const seen = await s.revocations.revocationsSince(start.cursor, now);
          assert.deepEqual(seen.revocations.map((r) => r.id), [b!.id]);
          await bulk.query('COMMIT');
          // Only 10 000 rows are read per poll: the unread rest of the hole must not be given up.
          const late = now + 60 * minute;
          const firstBatch = await s.revocations.revocationsSince(seen.cursor, late);
          assert.equal(firstBatch.revocations.length, 10_000);
          const rest = await s.revocations.revocationsSince(firstBatch.cursor, late);
          assert.deepEqual(rest.revocations.map((r) => r.id), [`${a!.id}-10001`]);
          assert.deepEqual(JSON.parse(rest.cursor).gaps, []);
        } finally {
          await bulk.end();
          await close();
        }
      });
    });

    describe('several instances on one database', () => {
      test('concurrent first-start migrations from 3 pools all succeed, each migration applied once', async () => {
        const schema = freshSchema();
        const opened = await Promise.all([1, 2, 3].map(() => openPostgresStores(testPostgresUrl, { schema })));
        try {
          for (const s of opened) assert.deepEqual(await s.migrate(), []);
          const { rows } = await adminPool().query(`SELECT name FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY name`);
          assert.deepEqual(rows.map((r) => r.name), postgresMigrations.map((m) => m.name));
        } finally {
          for (const s of opened) await s.close();
          await dropSchema(schema);
        }
        const { all, close } = await fleet(3, { migrate: false });
        try {
          const applied = await Promise.all(all.map((s) => s.migrate()));
          assert.deepEqual(applied.flat().sort(), postgresMigrations.map((m) => m.name).sort(), 'each applied by exactly one pool');
        } finally {
          await close();
        }
      });

      test('data survives closing and reopening the pool', async () => {
        const schema = freshSchema();
        try {
          await assertDataSurvivesReopen(() => openPostgresStores(testPostgresUrl, { schema }), headroom);
        } finally {
          await dropSchema(schema);
        }
      });

      test('of 20 rotations raced through 3 pools exactly one succeeds', async () => {
        const { all, first, close } = await fleet(3);
        try {
          const { sessions: [session] } = await userWithSessions(first, 'race@example.com', 1);
          const now = t0 + 1000;
          const next = (i: number) => ({
            generation: 1, refreshHash: `h${i}`, previousHash: 'p', rotatedAt: now, graceBox: 'b', expiresAt: now + 7 * day, accessExpiresAt: now + 15 * minute, accessHash: null,
          });
          const results = await Promise.all(Array.from({ length: 20 }, (_, i) => all[i % 3]!.sessions.rotate(session!.id, 0, session!.refreshHash, next(i), now)));
          assert.equal(results.filter((r) => r !== null).length, 1);
          assert.equal((await all[2]!.sessions.get(session!.id))?.refreshHash, `h${results.findIndex((r) => r !== null)}`);
        } finally {
          await close();
        }
      });

      test('of signing keys added concurrently through 3 pools, one active key per algorithm gets in', async () => {
        const { all, close } = await fleet(3);
        try {
          const keys = Array.from({ length: 9 }, (_, i) => generateSigningKey('ES256', t0 + i));
          const added = await Promise.all(keys.map((k, i) => all[i % 3]!.keys.addSigningKey(k)));
          assert.equal(added.filter(Boolean).length, 1);
          assert.deepEqual(await all[1]!.keys.listSigningKeys(), [keys[added.indexOf(true)]]);
          const retired = { ...generateSigningKey('ES256', t0 + 20), retiredAt: t0 + 30 };
          assert.equal(await all[2]!.keys.addSigningKey(retired), true, 'retired keys do not count');
        } finally {
          await close();
        }
      });

      /** Resolves once `pid`'s transaction blocks another backend (the login's INSERT waiting on the user row). */
      async function blockingSomeone(pid: number): Promise<void> {
        for (let i = 0; i < 500; i++) {
          const { rows } = await adminPool().query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid]);
          if (rows.length > 0) return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.fail('the login never waited for the password change');
      }

      for (const [what, change] of [
        ['credential change', `UPDATE users SET credential_stamp = credential_stamp + 1, updated_at = updated_at + 1 WHERE id = $1`],
        ['disable', 'UPDATE users SET disabled_at = updated_at, updated_at = updated_at + 1 WHERE id = $1'],
      ] as const) {
        test(`a login racing a ${what} on another connection waits for it, then creates nothing`, async () => {
          const { schema, all: [server, other], close } = await fleet(2);
          const admin = await connect(schema);
          try {
            const user: UserRecord = userRecord('racing@example.com');
            await other!.users.create(user);
            const { rows } = await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
            await admin.query('BEGIN');
            await admin.query(change, [user.id]);
            const session = sessionRecord(user.id, t0 + 1);
            const login = server!.sessions.create(session, user.credentialStamp);
            await blockingSomeone(rows[0]!.pid);
            await admin.query('COMMIT');
            assert.equal(await login, false);
            assert.equal(await other!.sessions.get(session.id), null);
          } finally {
            await admin.end();
            await close();
          }
        });
      }
    });
  });
}
