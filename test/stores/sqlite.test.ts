import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey } from '../../src/core/keys.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { tempDir } from '../helpers.ts';
import { describeSessionConformance } from './conformance-sessions.ts';
import { describeFeatureConformance } from './conformance-features.ts';
import { credentialRecord, describeStoreConformance, selectedBackends, sessionRecord, userRecord, assertDataSurvivesReopen } from './conformance.ts';

const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;
const day = 86_400_000;
const headroom = 5 * minute;
const backends = selectedBackends();
const skip = backends.includes('sqlite')
  ? false
  : `TOKENSTILE_TEST_BACKENDS=${process.env.TOKENSTILE_TEST_BACKENDS ?? ''} does not include sqlite`;
if (skip) console.log(`# skipping SQLite store tests: ${skip}`);

const dir = tempDir();
after(() => dir.cleanup());
let files = 0;
/** A path for a new database file in this run's temporary folder. */
const freshFile = () => join(dir.path, `stores-${++files}.db`);

describe('SQLite stores', { skip }, () => {
  describeStoreConformance('sqlite :memory:', async () => openSqliteStores(':memory:'));
  describeStoreConformance('sqlite file', async () => openSqliteStores(freshFile()));
  describeSessionConformance('sqlite :memory:', async () => openSqliteStores(':memory:'));
  describeSessionConformance('sqlite file', async () => openSqliteStores(freshFile()));
  describeFeatureConformance('sqlite :memory:', async () => openSqliteStores(':memory:'));
  describeFeatureConformance('sqlite file', async () => openSqliteStores(freshFile()));

  test('data survives closing and reopening the file', async () => {
    const path = freshFile();
    await assertDataSurvivesReopen(async () => openSqliteStores(path), headroom);
  });

  test('a new database and its folder are readable by the owner alone (they hold private keys)', async () => {
    const folder = join(dir.path, `private-${++files}`, 'data');
    const path = join(folder, 'tokenstile.db');
    const stores = openSqliteStores(path);
    try {
      await stores.users.create(userRecord('modes@example.com')); // a write: the -wal and -shm files exist now
      const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
      assert.equal(mode(folder), '700');
      assert.equal(mode(join(folder, '..')), '700', 'every folder created on the way');
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        assert.ok(existsSync(file), `${file} exists`);
        assert.equal(mode(file), '600', file);
      }
    } finally {
      await stores.close();
    }
  });

  test('migrate applies the schema once when opened without migrating', async () => {
    const stores = openSqliteStores(freshFile(), { migrate: false });
    try {
      const applied = await stores.migrate();
      assert.ok(applied.length > 0);
      assert.ok(applied.includes('0001_initial'));
      assert.deepEqual(await stores.migrate(), []);
    } finally {
      await stores.close();
    }
  });

  describe('two instances on one file (the CLI beside the server)', () => {
    async function pair() {
      const path = freshFile();
      const server = openSqliteStores(path);
      const cli = openSqliteStores(path);
      return { server, cli, close: async () => { await cli.close(); await server.close(); } };
    }

    test('each sees the writes of the other', async () => {
      const { server, cli, close } = await pair();
      try {
        const user = userRecord('shared@example.com');
        assert.equal(await cli.users.create(user), true);
        assert.deepEqual(await server.users.byEmail('shared@example.com'), user);
        assert.equal(await server.users.create(userRecord('shared@example.com', t0 + 1)), false);
        await server.users.update(user.id, { name: 'Set by server' }, t0 + 5);
        assert.equal((await cli.users.byId(user.id))?.name, 'Set by server');
        assert.equal(await cli.keys.secret('mac', () => 'cli'), 'cli');
        assert.equal(await server.keys.secret('mac', () => 'server'), 'cli');
      } finally {
        await close();
      }
    });

    test('revocationsSince on one instance sees revocations written by the other', async () => {
      const { server, cli, close } = await pair();
      try {
        const user = userRecord('poll@example.com');
        await server.users.create(user);
        const before = sessionRecord(user.id, t0);
        const a = sessionRecord(user.id, t0 + 1);
        const b = sessionRecord(user.id, t0 + 2);
        for (const s of [before, a, b]) assert.equal(await server.sessions.create(s, user.credentialStamp), true);
        await cli.sessions.revoke({ sessionId: before.id }, t0 + 10, headroom);
        const start = await server.revocations.revocationsSince(null, t0 + 10);
        assert.deepEqual(start.revocations, []);
        const byCli = await cli.sessions.revoke({ sessionId: a.id }, t0 + 20, headroom);
        const seen = await server.revocations.revocationsSince(start.cursor, t0 + 20);
        assert.deepEqual(seen.revocations, byCli);
        const everywhere = await cli.sessions.revoke({ userId: user.id }, t0 + 30, headroom);
        const next = await server.revocations.revocationsSince(seen.cursor, t0 + 30);
        assert.deepEqual(next.revocations, everywhere);
        assert.equal((await server.sessions.get(b.id))?.revokedAt, t0 + 30);
      } finally {
        await close();
      }
    });

    test('of rotations raced through both instances exactly one succeeds', async () => {
      const { server, cli, close } = await pair();
      try {
        const user = userRecord('race@example.com');
        await server.users.create(user);
        const session = sessionRecord(user.id, t0);
        assert.equal(await server.sessions.create(session, user.credentialStamp), true);
        const now = t0 + 1000;
        const next = (i: number) => ({
          generation: 1, refreshHash: `h${i}`, previousHash: 'p', rotatedAt: now, graceBox: 'b', expiresAt: now + 7 * day, accessExpiresAt: now + 15 * minute, accessHash: null,
        });
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? server : cli).sessions.rotate(session.id, 0, session.refreshHash, next(i), now)),
        );
        assert.equal(results.filter((r) => r !== null).length, 1);
        assert.equal((await cli.sessions.get(session.id))?.refreshHash, `h${results.findIndex((r) => r !== null)}`);
      } finally {
        await close();
      }
    });

    test('a login on one instance fails once the other has disabled the user or changed the password', async () => {
      const { server, cli, close } = await pair();
      try {
        const user = userRecord('locked@example.com');
        await server.users.create(user);
        const stamp = await cli.credentials.replace(credentialRecord(user.id, 'password', t0 + 1), t0 + 1);
        const stale = sessionRecord(user.id, t0 + 2);
        assert.equal(await server.sessions.create(stale, user.credentialStamp), false);
        assert.equal(await cli.sessions.get(stale.id), null);
        await cli.users.update(user.id, { disabledAt: t0 + 3 }, t0 + 3);
        const blocked = sessionRecord(user.id, t0 + 4);
        assert.equal(await server.sessions.create(blocked, stamp!), false);
        assert.equal(await cli.sessions.get(blocked.id), null);
      } finally {
        await close();
      }
    });

    test('a revocation written by one instance stops extendAccess on the other', async () => {
      const { server, cli, close } = await pair();
      try {
        const user = userRecord('extend@example.com');
        await server.users.create(user);
        const session = sessionRecord(user.id, t0);
        assert.equal(await server.sessions.create(session, user.credentialStamp), true);
        assert.equal(await server.sessions.extendAccess(session.id, t0 + 20 * minute), true);
        const [revocation] = await cli.sessions.revoke({ sessionId: session.id }, t0 + minute, headroom);
        assert.equal(revocation?.expiresAt, t0 + 20 * minute + headroom, 'the other instance\'s extension is honoured');
        assert.equal(await server.sessions.extendAccess(session.id, t0 + 30 * minute), false);
        assert.equal((await cli.sessions.get(session.id))?.accessExpiresAt, t0 + 20 * minute);
      } finally {
        await close();
      }
    });
  });
});
