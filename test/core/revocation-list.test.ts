import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../src/core/ids.ts';
import { RevocationList } from '../../src/core/revocation-list.ts';
import type { Revocation } from '../../src/core/revocation.ts';

const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;
const alice = uuidv7(t0 - 1000);

const entry = (sid: string, at: number, expiresAt = at + 20 * minute): Revocation => ({
  kind: 'session', id: sid, userId: alice, revokedAt: at, expiresAt,
});

describe('RevocationList', () => {
  test('an entry revokes only that session id', () => {
    const list = new RevocationList();
    const sid = uuidv7(t0 - minute);
    const sibling = uuidv7(t0 - minute);
    assert.equal(list.isRevoked(sid), false);
    list.add(entry(sid, t0), t0);
    assert.equal(list.isRevoked(sid), true);
    assert.equal(list.isRevoked(sibling), false);
  });

  test('adding the same entry twice is idempotent', () => {
    const list = new RevocationList();
    const sid = uuidv7(t0);
    list.add(entry(sid, t0), t0);
    list.add(entry(sid, t0), t0);
    assert.equal(list.size, 1);
  });

  test('an entry already expired is not added', () => {
    const list = new RevocationList();
    const sid = uuidv7(t0 - minute);
    list.add(entry(sid, t0 - 2 * minute, t0), t0);
    assert.equal(list.size, 0);
    assert.equal(list.isRevoked(sid), false);
  });

  test('purge drops entries as they expire and keeps live ones', () => {
    const list = new RevocationList();
    const s1 = uuidv7(t0 - minute);
    const s2 = uuidv7(t0 - minute);
    list.add(entry(s1, t0, t0 + 10 * minute), t0);
    list.add(entry(s2, t0 + minute, t0 + 11 * minute), t0 + minute);
    assert.equal(list.size, 2);
    list.purge(t0 + 10 * minute);
    assert.equal(list.size, 1);
    assert.equal(list.isRevoked(s1), false);
    assert.equal(list.isRevoked(s2), true);
    list.purge(t0 + 11 * minute);
    assert.equal(list.size, 0);
  });

  test('a re-added entry with a later expiry moves to the back, so purge still stops at the first live entry', () => {
    const list = new RevocationList();
    const a = uuidv7(t0);
    const b = uuidv7(t0);
    list.add(entry(a, t0, t0 + 10 * minute), t0);
    list.add(entry(b, t0, t0 + 11 * minute), t0);
    list.add(entry(a, t0, t0 + 12 * minute), t0); // extended: now the last to expire
    list.purge(t0 + 11 * minute);
    assert.equal(list.isRevoked(a), true);
    assert.equal(list.isRevoked(b), false);
    assert.equal(list.size, 1);
  });

  test('adding entries purges expired ones on the way', () => {
    const list = new RevocationList();
    const old = uuidv7(t0 - minute);
    list.add(entry(old, t0, t0 + minute), t0);
    const fresh = uuidv7(t0 + minute);
    list.add(entry(fresh, t0 + 2 * minute), t0 + 2 * minute);
    assert.equal(list.size, 1);
    assert.equal(list.isRevoked(old), false);
    assert.equal(list.isRevoked(fresh), true);
  });
});
