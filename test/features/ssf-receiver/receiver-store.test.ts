// The Shared Signals receiver's store on SQLite and PostgreSQL, through the feature database handle.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { featureMigrations } from '../../../src/core/feature.ts';
import { ssfReceiverFeature } from '../../../src/features/ssf-receiver/ssf-receiver-feature.ts';
import { sqlReceiverStore, type ReceiverStore } from '../../../src/features/ssf-receiver/receiver-store.ts';
import { databaseBackends } from '../../backend-fixtures.ts';

for (const backend of await databaseBackends()) {
  describe(`ssf-receiver store on ${backend.name}`, () => {
    const withStore = async (fn: (store: ReceiverStore) => Promise<void>) => {
      const stores = await backend.open();
      try {
        await stores.migrate(featureMigrations([ssfReceiverFeature], stores.database.dialect));
        await fn(sqlReceiverStore(stores.database));
      } finally {
        await stores.close();
      }
    };

    test('a processed jti is known per receiver until it expires, then purged', () =>
      withStore(async (store) => {
        assert.equal(await store.processed('acme', 'h1', 1000), false);
        await store.recordProcessed('acme', 'h1', 5000);
        await store.recordProcessed('acme', 'h1', 5000);
        assert.equal(await store.processed('acme', 'h1', 1000), true);
        assert.equal(await store.processed('other', 'h1', 1000), false);
        assert.equal(await store.processed('acme', 'h1', 6000), false, 'expired');
        assert.equal(await store.purge(6000), 1);
        assert.equal(await store.purge(6000), 0);
      }));

    test('a lease has one holder until it expires or is released; its holder renews it', () =>
      withStore(async (store) => {
        assert.equal(await store.takeLease('poll:acme', 'a', 1000, 2000), true);
        assert.equal(await store.takeLease('poll:acme', 'b', 1500, 2500), false, 'held by a');
        assert.equal(await store.takeLease('poll:acme', 'a', 1500, 3000), true, 'renewed');
        assert.equal(await store.takeLease('poll:acme', 'b', 2999, 4000), false, 'still held');
        assert.equal(await store.takeLease('poll:acme', 'b', 3001, 4000), true, 'lapsed: taken over');
        assert.equal(await store.takeLease('poll:acme', 'a', 3002, 5000), false);
        await store.releaseLease('poll:acme', 'a');
        assert.equal(await store.takeLease('poll:acme', 'a', 3003, 5000), false, 'a release by another holder does nothing');
        await store.releaseLease('poll:acme', 'b');
        assert.equal(await store.takeLease('poll:acme', 'a', 3004, 5000), true, 'released');
        assert.equal(await store.takeLease('poll:other', 'b', 3004, 5000), true, 'leases are by name');
      }));

    test('of instances racing for a free lease, one gets it', () =>
      withStore(async (store) => {
        for (let round = 0; round < 5; round++) {
          const results = await Promise.all(['a', 'b', 'c'].map((holder) => store.takeLease(`race:${round}`, holder, 1000, 2000)));
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
        }
      }));

    test('a stream is recorded once per receiver', () =>
      withStore(async (store) => {
        assert.equal(await store.stream('acme'), null);
        await store.recordStream('acme', { streamId: 's1', endpointUrl: 'https://t.example/poll' }, 1000);
        await store.recordStream('acme', { streamId: 's2', endpointUrl: null }, 2000);
        assert.deepEqual(await store.stream('acme'), { streamId: 's1', endpointUrl: 'https://t.example/poll' });
      }));
  });
}
