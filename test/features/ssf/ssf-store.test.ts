// The transmitter's outbox, on the app's backend (SQLite; PostgreSQL with TOKENSTILE_TEST_APP_BACKEND).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sharedSignalsOf } from '../../../src/features/ssf/ssf-feature.ts';
import { call, createStream, ssfApp, type SsfApp } from './ssf-test-kit.ts';

const poll = 'urn:ietf:rfc:8936';

let t: SsfApp;
before(async () => {
  t = await ssfApp();
});
after(() => t.close());

describe('SSF outbox store', () => {
  test('SETs made for a stream deleted meanwhile are skipped; the batch\'s other SETs are stored', async () => {
    // A revocation reads the live streams, then stores its SETs: a receiver deleting its stream in
    // between must not fail the batch (the other streams' SETs, and the logout that made them).
    const ssf = sharedSignalsOf(t.app.tokenstile)!;
    const kept = await createStream(t, { delivery: { method: poll } });
    const gone = await createStream(t, { delivery: { method: poll } });
    assert.equal((await call(t, 'DELETE', `/ssf/streams?stream_id=${gone.stream_id}`)).statusCode, 204);
    const set = (streamId: string) => ({ streamId, jti: randomBytes(16).toString('base64url'), eventType: 'urn:test', claims: '{}' });
    const forGone = set(gone.stream_id);
    const forKept = set(kept.stream_id);
    const dropped = await ssf.store.append([forGone, forKept], Date.now(), 60_000, 100);
    assert.equal(dropped.size, 0);
    assert.deepEqual((await ssf.store.pending(kept.stream_id, Date.now(), 10)).map((e) => e.jti), [forKept.jti]);
    assert.deepEqual(await ssf.store.pending(gone.stream_id, Date.now(), 10), []);
  });

  test('a lease is renewed only while it is still held', async () => {
    const ssf = sharedSignalsOf(t.app.tokenstile)!;
    const s = await createStream(t, { delivery: { method: poll } });
    const jti = randomBytes(16).toString('base64url');
    await ssf.store.append([{ streamId: s.stream_id, jti, eventType: 'urn:test', claims: '{}' }], Date.now(), 60_000, 100);
    await ssf.store.release(jti, Date.now());
    // Not leased (lease_until 0): a renewal of a lease that is not this one's does nothing.
    assert.equal(await ssf.store.renew([jti], 12345, Date.now() + 1000), 0);
    assert.equal(await ssf.store.renew([jti], 0, 777), 1);
    assert.equal(await ssf.store.renew([jti], 0, 888), 0);
  });
});
