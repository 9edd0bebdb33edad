// The social feature's store on SQLite and PostgreSQL, through the feature database handle.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { featureMigrations } from '../../../src/core/feature.ts';
import { socialFeature } from '../../../src/features/social/social-feature.ts';
import { sqlSocialStore } from '../../../src/features/social/social-store.ts';
import { databaseBackends } from '../../backend-fixtures.ts';

for (const backend of await databaseBackends()) {
  describe(`social store on ${backend.name}`, () => {
    const withStore = async (fn: (store: ReturnType<typeof sqlSocialStore>) => Promise<void>) => {
      const stores = await backend.open();
      try {
        await stores.migrate(featureMigrations([socialFeature], stores.database.dialect));
        await fn(sqlSocialStore(stores.database));
      } finally {
        await stores.close();
      }
    };
    const identity = (id: string, userId: string, subject = 'sub-1') => ({ id, provider: 'acme', subject, userId, email: 'a@example.com', emailVerified: true, createdAt: 1000 });

    test('one user per provider account; the list is the user\'s, oldest first; removal is by owner only', () =>
      withStore(async (store) => {
        assert.equal(await store.addIdentity(identity('i1', 'u1')), true);
        assert.equal(await store.addIdentity(identity('i2', 'u2')), false, 'the same provider account for another user');
        assert.equal(await store.addIdentity({ ...identity('i3', 'u1', 'sub-2'), createdAt: 2000, emailVerified: false }), true);
        assert.deepEqual((await store.identitiesOf('u1')).map((i) => [i.id, i.emailVerified]), [['i1', true], ['i3', false]]);
        assert.equal((await store.identity('acme', 'sub-1'))?.userId, 'u1');
        assert.equal(await store.removeIdentity('u2', 'i1', false), 'not_found');
        assert.equal(await store.removeIdentity('u1', 'i1', true), 'removed');
        assert.equal(await store.identity('acme', 'sub-1'), null);
        assert.equal(await store.removeIdentity('u1', 'i3', true), 'last', 'keepOne: the only one stays');
        assert.equal(await store.removeIdentity('u1', 'i3', false), 'removed');
      }));

    test('two racing removals of a user\'s last two identities (keepOne) leave one', () =>
      withStore(async (store) => {
        for (let round = 0; round < 5; round++) {
          const user = `racer-${round}`;
          await store.addIdentity(identity(`a-${round}`, user, `a-${round}`));
          await store.addIdentity(identity(`b-${round}`, user, `b-${round}`));
          const results = await Promise.all([store.removeIdentity(user, `a-${round}`, true), store.removeIdentity(user, `b-${round}`, true)]);
          assert.deepEqual([...results].sort(), ['last', 'removed'], `round ${round}`);
          assert.equal((await store.identitiesOf(user)).length, 1);
        }
      }));

    test('sessions are found by provider session id, by subject, never across providers', () =>
      withStore(async (store) => {
        await store.recordSession({ sessionId: 's1', provider: 'acme', subject: 'alice', sid: 'p1', expiresAt: 5000 });
        await store.recordSession({ sessionId: 's2', provider: 'acme', subject: 'alice', sid: 'p2', expiresAt: 5000 });
        await store.recordSession({ sessionId: 's3', provider: 'other', subject: 'alice', sid: 'p1', expiresAt: 5000 });
        assert.deepEqual(await store.sessionsFor('acme', { sid: 'p1', subject: null }), ['s1']);
        assert.deepEqual(await store.sessionsFor('acme', { sid: 'p1', subject: 'bob' }), []);
        assert.deepEqual((await store.sessionsFor('acme', { sid: null, subject: 'alice' })).sort(), ['s1', 's2']);
        assert.equal(await store.purge(6000), 3);
        assert.deepEqual(await store.sessionsFor('acme', { sid: null, subject: 'alice' }), []);
      }));

    test('a logout token is spent once, also by racing callers, and its record goes at expiry', () =>
      withStore(async (store) => {
        const results = await Promise.all(Array.from({ length: 8 }, () => store.spendLogoutToken('acme', 'jti-hash', 5000)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(await store.spendLogoutToken('other', 'jti-hash', 5000), true, 'per provider');
        assert.equal(await store.purge(4000), 0);
        assert.equal(await store.purge(6000), 2);
        assert.equal(await store.spendLogoutToken('acme', 'jti-hash', 9000), true);
      }));
  });
}
