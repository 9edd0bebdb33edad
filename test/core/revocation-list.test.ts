import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../src/core/ids.ts';
import { RevocationList } from '../../src/core/revocation-list.ts';
import type { Revocation } from '../../src/core/revocation.ts';

const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;
const alice = uuidv7(t0 - 1000);
const bob = uuidv7(t0 - 2000);

const sessionEntry = (sid: string, userId: string, at: number, expiresAt = at + 20 * minute): Revocation => ({
  kind: 'session', id: sid, userId, revokedAt: at, expiresAt,
});
const userEntry = (userId: string, at: number, expiresAt = at + 20 * minute): Revocation => ({
  kind: 'user', id: userId, userId, revokedAt: at, expiresAt,
});

describe('RevocationList', () => {
  test('a session entry revokes only that session id', () => {
    const list = new RevocationList();
    const sid = uuidv7(t0 - minute);
    const sibling = uuidv7(t0 - minute);
    assert.equal(list.isRevoked(sid, alice), false);
    list.add(sessionEntry(sid, alice, t0), t0);
    assert.equal(list.isRevoked(sid, alice), true);
    assert.equal(list.isRevoked(sibling, alice), false);
    assert.equal(list.isRevoked(uuidv7(t0 - minute), bob), false);
    assert.equal(list.userCutoff(alice), undefined);
  });

  test('adding the same entry twice is idempotent', () => {
    const list = new RevocationList();
    const sid = uuidv7(t0);
    list.add(sessionEntry(sid, alice, t0), t0);
    list.add(sessionEntry(sid, alice, t0), t0);
    list.add(userEntry(alice, t0), t0);
    list.add(userEntry(alice, t0), t0);
    assert.equal(list.size, 2);
  });

  test('a user cutoff revokes sessions created at or before it and not later ones', () => {
    const list = new RevocationList();
    const cutoff = t0;
    list.add(userEntry(alice, cutoff), t0);
    assert.equal(list.isRevoked(uuidv7(cutoff - minute), alice), true);
    assert.equal(list.isRevoked(uuidv7(cutoff), alice), true);
    assert.equal(list.isRevoked(uuidv7(cutoff + 1), alice), false);
    assert.equal(list.isRevoked(uuidv7(cutoff - minute), bob), false, 'other users are not affected');
  });

  test('a later user cutoff replaces an earlier one, an earlier one does not', () => {
    const list = new RevocationList();
    list.add(userEntry(alice, t0), t0);
    list.add(userEntry(alice, t0 + minute), t0 + minute);
    assert.equal(list.userCutoff(alice), t0 + minute);
    assert.equal(list.isRevoked(uuidv7(t0 + 30_000), alice), true);
    list.add(userEntry(alice, t0 + 1), t0 + minute);
    assert.equal(list.userCutoff(alice), t0 + minute);
    assert.equal(list.size, 1);
  });

  test('a malformed sid counts as revoked when its user has a cutoff (fail closed)', () => {
    const list = new RevocationList();
    list.add(userEntry(alice, t0), t0);
    for (const sid of ['not-a-uuid', '', crypto.randomUUID(), uuidv7(t0 + minute).toUpperCase()]) {
      assert.equal(list.isRevoked(sid, alice), true, sid);
    }
    assert.equal(list.isRevoked('not-a-uuid', bob), false, 'no cutoff for bob, nothing to fail closed on');
  });

  test('an entry already expired is not added', () => {
    const list = new RevocationList();
    const sid = uuidv7(t0 - minute);
    list.add(sessionEntry(sid, alice, t0 - 2 * minute, t0), t0);
    list.add(userEntry(bob, t0 - 2 * minute, t0 - 1), t0);
    assert.equal(list.size, 0);
    assert.equal(list.isRevoked(sid, alice), false);
    assert.equal(list.isRevoked(uuidv7(t0 - 3 * minute), bob), false);
    assert.equal(list.userCutoff(bob), undefined);
  });

  test('purge drops entries as they expire and keeps live ones', () => {
    const list = new RevocationList();
    const s1 = uuidv7(t0 - minute);
    const s2 = uuidv7(t0 - minute);
    list.add(sessionEntry(s1, alice, t0, t0 + 10 * minute), t0);
    list.add(userEntry(bob, t0, t0 + 10 * minute), t0);
    list.add(sessionEntry(s2, alice, t0 + minute, t0 + 11 * minute), t0 + minute);
    list.add(userEntry(alice, t0 + minute, t0 + 11 * minute), t0 + minute);
    assert.equal(list.size, 4);
    list.purge(t0 + 10 * minute);
    assert.equal(list.size, 2);
    assert.equal(list.isRevoked(s1, alice), true, 'still covered by alice\'s cutoff');
    assert.equal(list.userCutoff(bob), undefined);
    assert.equal(list.isRevoked(uuidv7(t0 - minute), bob), false);
    assert.equal(list.isRevoked(s2, alice), true);
    list.purge(t0 + 11 * minute);
    assert.equal(list.size, 0);
    assert.equal(list.isRevoked(s2, alice), false);
    assert.equal(list.userCutoff(alice), undefined);
  });

  test('adding entries purges expired ones on the way', () => {
    const list = new RevocationList();
    const old = uuidv7(t0 - minute);
    list.add(sessionEntry(old, alice, t0, t0 + minute), t0);
    const fresh = uuidv7(t0 + minute);
    list.add(sessionEntry(fresh, alice, t0 + 2 * minute), t0 + 2 * minute);
    assert.equal(list.size, 1);
    assert.equal(list.isRevoked(old, alice), false);
    assert.equal(list.isRevoked(fresh, alice), true);
  });

  test('userCutoff reports the cutoff of a user entry and nothing for session entries', () => {
    const list = new RevocationList();
    assert.equal(list.userCutoff(alice), undefined);
    list.add(sessionEntry(uuidv7(t0), bob, t0), t0);
    list.add(userEntry(alice, t0 + 123), t0 + 123);
    assert.equal(list.userCutoff(alice), t0 + 123);
    assert.equal(list.userCutoff(bob), undefined);
    assert.equal(list.size, 2);
  });
});
