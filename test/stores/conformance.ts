import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { uuidv7 } from '../../src/core/ids.ts';
import { generateSigningKey } from '../../src/core/keys.ts';
import type { Rotation, SessionRecord } from '../../src/core/session-store.ts';
import type { Stores } from '../../src/core/stores.ts';
import type { UserRecord } from '../../src/core/user-store.ts';

/** Backends named by TOKENSTILE_TEST_BACKENDS, a comma list; `sqlite` when unset. */
export function selectedBackends(): string[] {
  const raw = process.env.TOKENSTILE_TEST_BACKENDS ?? 'sqlite';
  return raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
}

const t0 = Date.UTC(2026, 0, 1);
const minute = 60_000;
const day = 86_400_000;
const week = 7 * day;

const randomHash = () => randomBytes(32).toString('base64url');

export function userRecord(email: string, at = t0): UserRecord {
  return { id: uuidv7(at), email, name: null, passwordHash: `$argon2id$${randomHash()}`, createdAt: at, updatedAt: at, disabledAt: null };
}

export function sessionRecord(userId: string, createdAt: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: uuidv7(createdAt), userId, createdAt, lastUsedAt: createdAt, expiresAt: createdAt + week, revokedAt: null,
    userAgent: null, ip: null, generation: 0, refreshHash: randomHash(), previousHash: null, rotatedAt: null, graceBox: null,
    ...overrides,
  };
}

function rotation(generation: number, now: number): Rotation {
  return { generation, refreshHash: randomHash(), previousHash: randomHash(), rotatedAt: now, graceBox: randomHash(), expiresAt: now + week };
}

/** A user with one session per creation time given; returns the user and the sessions in that order. */
async function userWithSessions(stores: Stores, email: string, ...createdAts: number[]) {
  const user = userRecord(email);
  assert.equal(await stores.users.create(user), true);
  const sessions: SessionRecord[] = [];
  for (const at of createdAts) {
    const s = sessionRecord(user.id, at);
    await stores.sessions.create(s);
    sessions.push(s);
  }
  return { user, sessions };
}

/**
 * Registers the contract tests of `Stores` for one backend. `open` must return a fresh, migrated,
 * empty backend on every call; each test closes what it opened.
 */
export function describeStoreConformance(name: string, open: () => Promise<Stores>): void {
  function it(title: string, fn: (stores: Stores) => Promise<void>): void {
    test(title, async () => {
      const stores = await open();
      try {
        await fn(stores);
      } finally {
        await stores.close();
      }
    });
  }

  describe(`${name}: Stores conformance`, () => {
    describe('users', () => {
      it('create stores a user that byId and byEmail return', async (s) => {
        const u = { ...userRecord('ada@example.com'), name: 'Ada', disabledAt: t0 + 5 };
        assert.equal(await s.users.create(u), true);
        assert.deepEqual(await s.users.byId(u.id), u);
        assert.deepEqual(await s.users.byEmail('ada@example.com'), u);
      });

      it('create with a taken email returns false and writes nothing', async (s) => {
        const first = userRecord('taken@example.com');
        const second = { ...userRecord('taken@example.com', t0 + 1), name: 'Other' };
        assert.equal(await s.users.create(first), true);
        assert.equal(await s.users.create(second), false);
        assert.equal(await s.users.byId(second.id), null);
        assert.deepEqual(await s.users.byEmail('taken@example.com'), first);
      });

      it('of concurrent registrations with one email exactly one wins', async (s) => {
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.users.create(userRecord('race@example.com', t0 + i))));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('byId and byEmail return null for unknown users', async (s) => {
        assert.equal(await s.users.byId(uuidv7(t0)), null);
        assert.equal(await s.users.byEmail('nobody@example.com'), null);
      });

      it('update applies only the patched fields and sets updatedAt', async (s) => {
        const u = { ...userRecord('bob@example.com'), name: 'Bob' };
        await s.users.create(u);
        const renamed = await s.users.update(u.id, { name: 'Robert' }, t0 + minute);
        assert.deepEqual(renamed, { ...u, name: 'Robert', updatedAt: t0 + minute });
        const changed = await s.users.update(u.id, { name: null, passwordHash: 'new-hash', disabledAt: t0 + 2 * minute }, t0 + 2 * minute);
        const expected = { ...u, name: null, passwordHash: 'new-hash', disabledAt: t0 + 2 * minute, updatedAt: t0 + 2 * minute };
        assert.deepEqual(changed, expected);
        assert.deepEqual(await s.users.byId(u.id), expected);
        assert.deepEqual(await s.users.update(u.id, { disabledAt: null }, t0 + 3 * minute), { ...expected, disabledAt: null, updatedAt: t0 + 3 * minute });
      });

      it('update returns null for an unknown user', async (s) => {
        assert.equal(await s.users.update(uuidv7(t0), { name: 'x' }, t0), null);
      });
    });

    describe('sessions', () => {
      it('create stores a session that get returns; get of an unknown id is null', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        const session = sessionRecord(user.id, t0, { userAgent: 'curl/8', ip: '203.0.113.9', generation: 3, previousHash: randomHash(), rotatedAt: t0 + 1, graceBox: 'box' });
        await s.sessions.create(session);
        assert.deepEqual(await s.sessions.get(session.id), session);
        assert.equal(await s.sessions.get(uuidv7(t0)), null);
      });

      it('listLive returns the user\'s unrevoked, unexpired sessions, newest first', async (s) => {
        const { user, sessions: [a, b, c] } = await userWithSessions(s, 'a@example.com', t0, t0 + minute, t0 + 2 * minute);
        await userWithSessions(s, 'other@example.com', t0 + 3 * minute);
        const expired = sessionRecord(user.id, t0 + 4 * minute, { expiresAt: t0 + 5 * minute });
        await s.sessions.create(expired);
        await s.sessions.revoke({ sessionId: b!.id }, t0 + 6 * minute, t0 + day);
        const live = await s.sessions.listLive(user.id, t0 + 10 * minute);
        assert.deepEqual(live.map((x) => x.id), [c!.id, a!.id]);
        const beforeExpiry = await s.sessions.listLive(user.id, t0 + 4 * minute + 1);
        assert.deepEqual(beforeExpiry.map((x) => x.id), [expired.id, c!.id, a!.id]);
      });

      it('of 20 concurrent rotations from one generation exactly one succeeds', async (s) => {
        const { sessions: [session] } = await userWithSessions(s, 'a@example.com', t0);
        const now = t0 + minute;
        const attempts = Array.from({ length: 20 }, () => rotation(1, now));
        const results = await Promise.all(attempts.map((r) => s.sessions.rotate(session!.id, 0, r, now)));
        assert.equal(results.filter(Boolean).length, 1);
        const winner = attempts[results.indexOf(true)]!;
        const stored = await s.sessions.get(session!.id);
        assert.equal(stored?.generation, 1);
        assert.equal(stored?.refreshHash, winner.refreshHash);
        assert.equal(stored?.previousHash, winner.previousHash);
        assert.equal(stored?.graceBox, winner.graceBox);
        assert.equal(stored?.rotatedAt, now);
        assert.equal(stored?.expiresAt, winner.expiresAt);
        assert.equal(await s.sessions.rotate(session!.id, 0, rotation(1, now + 1), now + 1), false);
        assert.equal(await s.sessions.rotate(session!.id, 1, rotation(2, now + 2), now + 2), true);
      });

      it('rotate fails on a revoked, an expired or an unknown session and changes nothing', async (s) => {
        const { sessions: [revoked, expiring] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1);
        await s.sessions.revoke({ sessionId: revoked!.id }, t0 + minute, t0 + day);
        assert.equal(await s.sessions.rotate(revoked!.id, 0, rotation(1, t0 + 2 * minute), t0 + 2 * minute), false);
        assert.equal((await s.sessions.get(revoked!.id))?.generation, 0);
        const late = expiring!.expiresAt + 1;
        assert.equal(await s.sessions.rotate(expiring!.id, 0, rotation(1, late), late), false);
        assert.deepEqual(await s.sessions.get(expiring!.id), expiring);
        assert.equal(await s.sessions.rotate(uuidv7(t0), 0, rotation(1, t0), t0), false);
      });

      it('revoke by sessionId ends that session only and returns its revocation', async (s) => {
        const { user, sessions: [a, b] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1);
        const at = t0 + minute;
        const out = await s.sessions.revoke({ sessionId: a!.id }, at, at + day);
        assert.deepEqual(out, [{ kind: 'session', id: a!.id, userId: user.id, revokedAt: at, expiresAt: at + day }]);
        assert.equal((await s.sessions.get(a!.id))?.revokedAt, at);
        assert.equal((await s.sessions.get(b!.id))?.revokedAt, null);
        assert.deepEqual(await s.sessions.revoke({ sessionId: a!.id }, at + 1, at + day), []);
        assert.deepEqual(await s.sessions.liveRevocations(at), out);
      });

      it('revoke by sessionId with another user\'s id ends nothing', async (s) => {
        const { user, sessions: [a] } = await userWithSessions(s, 'a@example.com', t0);
        const { user: other } = await userWithSessions(s, 'b@example.com');
        assert.deepEqual(await s.sessions.revoke({ sessionId: a!.id, userId: other.id }, t0 + minute, t0 + day), []);
        assert.equal((await s.sessions.get(a!.id))?.revokedAt, null);
        assert.deepEqual(await s.sessions.liveRevocations(t0 + minute), []);
        assert.equal((await s.sessions.revoke({ sessionId: a!.id, userId: user.id }, t0 + minute, t0 + day)).length, 1);
      });

      it('revoking an unknown or expired session returns nothing', async (s) => {
        const { sessions: [a] } = await userWithSessions(s, 'a@example.com', t0);
        assert.deepEqual(await s.sessions.revoke({ sessionId: uuidv7(t0) }, t0 + 1, t0 + day), []);
        assert.deepEqual(await s.sessions.revoke({ sessionId: a!.id }, a!.expiresAt + 1, a!.expiresAt + day), []);
      });

      it('revoke by userId with exceptSessionId ends every other live session of that user', async (s) => {
        const { user, sessions: [keep, x, y] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1, t0 + 2);
        const { sessions: [foreign] } = await userWithSessions(s, 'b@example.com', t0);
        const at = t0 + minute;
        const out = await s.sessions.revoke({ userId: user.id, exceptSessionId: keep!.id }, at, at + day);
        assert.deepEqual(
          out.map((r) => [r.kind, r.id, r.userId, r.revokedAt, r.expiresAt]).sort(),
          [x!, y!].map((r) => ['session', r.id, user.id, at, at + day]).sort(),
        );
        assert.deepEqual((await s.sessions.listLive(user.id, at)).map((r) => r.id), [keep!.id]);
        assert.equal((await s.sessions.get(foreign!.id))?.revokedAt, null);
        assert.deepEqual(await s.sessions.revoke({ userId: user.id, exceptSessionId: keep!.id }, at + 1, at + day), []);
      });

      it('revoke of a whole user ends every live session of that user, one revocation each, whatever their creation time', async (s) => {
        const at = t0 + minute;
        // A session stamped after `at` (its instance's clock runs ahead) is ended too: no clocks are compared.
        const { user, sessions: [older, same, newer] } = await userWithSessions(s, 'a@example.com', t0, at, at + 1);
        const { sessions: [foreign] } = await userWithSessions(s, 'b@example.com', t0);
        const out = await s.sessions.revoke({ userId: user.id }, at, at + day);
        assert.deepEqual(
          out.map((r) => [r.kind, r.id, r.userId, r.revokedAt, r.expiresAt]).sort(),
          [older!, same!, newer!].map((r) => ['session', r.id, user.id, at, at + day]).sort(),
        );
        assert.deepEqual((await s.sessions.liveRevocations(at)).map((r) => r.id).sort(), out.map((r) => r.id).sort());
        for (const x of [older!, same!, newer!]) assert.equal((await s.sessions.get(x.id))?.revokedAt, at);
        assert.equal((await s.sessions.get(foreign!.id))?.revokedAt, null);
        assert.deepEqual(await s.sessions.listLive(user.id, at + 2), []);
        assert.deepEqual(await s.sessions.revoke({ userId: user.id }, at + 1, at + day), [], 'nothing left to end');
      });

      it('revoke of a whole user leaves already-ended sessions as they were', async (s) => {
        const at = t0 + day;
        const { user, sessions: [revoked] } = await userWithSessions(s, 'a@example.com', t0);
        const expired = sessionRecord(user.id, t0 + 1, { expiresAt: t0 + minute });
        await s.sessions.create(expired);
        await s.sessions.revoke({ sessionId: revoked!.id }, t0 + 2, t0 + day);
        await s.sessions.revoke({ userId: user.id }, at, at + day);
        assert.equal((await s.sessions.get(revoked!.id))?.revokedAt, t0 + 2);
        assert.equal((await s.sessions.get(expired.id))?.revokedAt, null, 'an expired session is not live, so it is not ended again');
      });

      it('liveRevocations returns the unexpired revocations, oldest first', async (s) => {
        const { sessions: [a, b, c] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1, t0 + 2);
        const lifetime = 10 * minute;
        for (const [i, x] of [a!, b!, c!].entries()) await s.sessions.revoke({ sessionId: x.id }, t0 + (i + 1) * minute, t0 + (i + 1) * minute + lifetime);
        assert.deepEqual((await s.sessions.liveRevocations(t0 + 5 * minute)).map((r) => r.id), [a!.id, b!.id, c!.id]);
        assert.deepEqual((await s.sessions.liveRevocations(t0 + 11 * minute + 1)).map((r) => r.id), [b!.id, c!.id]);
        assert.deepEqual(await s.sessions.liveRevocations(t0 + 14 * minute), []);
      });

      it('revocationsSince(null) returns a cursor after which only newer revocations come', async (s) => {
        const { sessions: [a, b, c] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1, t0 + 2);
        await s.sessions.revoke({ sessionId: a!.id }, t0 + minute, t0 + day);
        const start = await s.sessions.revocationsSince(null, t0 + minute);
        assert.deepEqual(start.revocations, []);
        assert.equal(typeof start.cursor, 'string');
        assert.deepEqual(await s.sessions.revocationsSince(start.cursor, t0 + minute), { revocations: [], cursor: start.cursor });
        const [rb] = await s.sessions.revoke({ sessionId: b!.id }, t0 + 2 * minute, t0 + day);
        const next = await s.sessions.revocationsSince(start.cursor, t0 + 2 * minute);
        assert.deepEqual(next.revocations, [rb]);
        assert.notEqual(next.cursor, start.cursor);
        assert.deepEqual((await s.sessions.revocationsSince(next.cursor, t0 + 2 * minute)).revocations, []);
        const [rc] = await s.sessions.revoke({ sessionId: c!.id }, t0 + 3 * minute, t0 + day);
        const last = await s.sessions.revocationsSince(next.cursor, t0 + 3 * minute);
        assert.deepEqual(last.revocations, [rc]);
      });

      it('purge deletes expired sessions, long-revoked sessions and expired revocations', async (s) => {
        const now = t0 + 30 * day;
        const revokedBefore = now - day;
        const { user, sessions: [longRevoked, recentlyRevoked, live] } = await userWithSessions(s, 'a@example.com', now - 3 * day, now - 2 * day, now - day);
        const expired = sessionRecord(user.id, t0, { expiresAt: now - minute });
        await s.sessions.create(expired);
        await s.sessions.revoke({ sessionId: longRevoked!.id }, now - 2 * day, now - day);
        const [kept] = await s.sessions.revoke({ sessionId: recentlyRevoked!.id }, now - minute, now + day);
        assert.deepEqual(await s.sessions.purge(now, revokedBefore), { sessions: 2, revocations: 1 });
        assert.equal(await s.sessions.get(expired.id), null);
        assert.equal(await s.sessions.get(longRevoked!.id), null);
        assert.equal((await s.sessions.get(recentlyRevoked!.id))?.revokedAt, now - minute);
        assert.deepEqual(await s.sessions.get(live!.id), live);
        assert.deepEqual(await s.sessions.liveRevocations(now - 2 * day), [kept]);
        assert.deepEqual(await s.sessions.purge(now, revokedBefore), { sessions: 0, revocations: 0 });
      });
    });

    describe('keys', () => {
      it('addSigningKey stores keys that listSigningKeys returns with their JWKs intact', async (s) => {
        const keys = [generateSigningKey('ES256', t0), generateSigningKey('EdDSA', t0 + 1), generateSigningKey('RS256', t0 + 2)];
        for (const k of keys) await s.keys.addSigningKey(k);
        const byKid = (a: { kid: string }, b: { kid: string }) => (a.kid < b.kid ? -1 : 1);
        const listed = await s.keys.listSigningKeys();
        assert.deepEqual([...listed].sort(byKid), [...keys].sort(byKid));
        for (const k of listed) {
          const alg = k.alg === 'EdDSA' ? null : 'sha256';
          const sig = sign(alg, Buffer.from('x'), createPrivateKey({ key: k.privateJwk, format: 'jwk' }));
          assert.equal(verify(alg, Buffer.from('x'), createPublicKey({ key: k.publicJwk, format: 'jwk' }), sig), true, k.alg);
        }
      });

      it('adding a key with a kid already stored keeps the first', async (s) => {
        const k = generateSigningKey('ES256', t0);
        const other = generateSigningKey('ES256', t0 + 5);
        await s.keys.addSigningKey(k);
        await s.keys.addSigningKey({ ...other, kid: k.kid, retiredAt: t0 + 6 });
        assert.deepEqual(await s.keys.listSigningKeys(), [k]);
      });

      it('retireSigningKey marks only that key retired', async (s) => {
        const a = generateSigningKey('EdDSA', t0);
        const b = generateSigningKey('EdDSA', t0 + 1);
        await s.keys.addSigningKey(a);
        await s.keys.addSigningKey(b);
        await s.keys.retireSigningKey(a.kid, t0 + day);
        await s.keys.retireSigningKey('no-such-kid', t0 + day);
        const listed = await s.keys.listSigningKeys();
        assert.equal(listed.length, 2);
        assert.equal(listed.find((k) => k.kid === a.kid)?.retiredAt, t0 + day);
        assert.equal(listed.find((k) => k.kid === b.kid)?.retiredAt, null);
      });

      it('secret returns the value written first, whatever later create() would give', async (s) => {
        assert.equal(await s.keys.secret('mac', () => 'first'), 'first');
        assert.equal(await s.keys.secret('mac', () => 'second'), 'first');
        assert.equal(await s.keys.secret('other', () => 'third'), 'third');
        const racing = await Promise.all(Array.from({ length: 10 }, (_, i) => s.keys.secret('race', () => `v${i}`)));
        assert.equal(new Set(racing).size, 1);
      });
    });

    describe('lifecycle', () => {
      test('ping resolves on an open backend and rejects once closed', async () => {
        const s = await open();
        try {
          await s.ping();
          assert.equal(typeof s.kind, 'string');
        } finally {
          await s.close();
        }
        await assert.rejects(s.ping());
      });

      it('migrate is idempotent: a second call applies nothing and keeps data', async (s) => {
        await s.migrate();
        await s.users.create(userRecord('kept@example.com'));
        assert.deepEqual(await s.migrate(), []);
        assert.notEqual(await s.users.byEmail('kept@example.com'), null);
      });
    });
  });
}
