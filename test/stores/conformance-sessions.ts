import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../src/core/ids.ts';
import type { Revocation } from '../../src/core/revocation.ts';
import type { Rotation, SessionRecord } from '../../src/core/session-store.ts';
import type { Stores } from '../../src/core/stores.ts';
import type { UserRecord } from '../../src/core/user-store.ts';
import { accessLifetime, credentialRecord, day, minute, randomHash, sessionRecord, storeTest, t0, userRecord, week } from './conformance.ts';

/** Both purges a housekeeping run makes: the sessions', then the revocation log's. */
async function purgeBoth(s: Stores, now: number, options: { headroomMs: number; graceMs: number }): Promise<{ sessions: number; revocations: number }> {
  return { sessions: await s.sessions.purge(now, options), revocations: await s.revocations.purge(now) };
}

/** The headroom given to revoke and purge: how long a revocation outlives its session's last access token. */
const headroom = 5 * minute;
const hourish = 60 * minute;

function rotation(generation: number, now: number, accessExpiresAt = now + accessLifetime): Rotation {
  return { generation, refreshHash: randomHash(), previousHash: randomHash(), rotatedAt: now, graceBox: randomHash(), expiresAt: now + week, accessExpiresAt, accessHash: randomHash() };
}

/** The revocation that ending `session` at `at` must record. */
function revocationOf(session: SessionRecord, at: number): Revocation {
  return { kind: 'session', id: session.id, userId: session.userId, revokedAt: at, expiresAt: session.accessExpiresAt + headroom };
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Stores `sessions` of `user` under the user's current credential stamp, concurrently; each must be taken. */
async function add(stores: Stores, user: UserRecord, sessions: SessionRecord[]): Promise<void> {
  const created = await Promise.all(sessions.map((x) => stores.sessions.create(x, user.credentialStamp)));
  assert.ok(created.every(Boolean), 'every session is created');
}

/** A user with one session per creation time given; returns the user and the sessions in that order. */
async function userWithSessions(stores: Stores, email: string, ...createdAts: number[]) {
  const user = userRecord(email);
  assert.equal(await stores.users.create(user), true);
  const sessions = createdAts.map((at) => sessionRecord(user.id, at));
  for (const x of sessions) assert.equal(await stores.sessions.create(x, user.credentialStamp), true);
  return { user, sessions };
}

/**
 * Registers the contract tests of the session store for one backend. `open` must return a fresh,
 * migrated, empty backend on every call; each test closes what it opened.
 */
export function describeSessionConformance(name: string, open: () => Promise<Stores>): void {
  const it = storeTest(open);

  describe(`${name}: SessionStore conformance`, () => {
    it('usedBetween: live sessions created by the end and used since the start of an interval, of every user', async (s) => {
      const user = userRecord('window@example.com');
      await s.users.create(user);
      const other = userRecord('window-2@example.com');
      await s.users.create(other);
      const before = sessionRecord(user.id, t0, { lastUsedAt: t0 + 10 * minute }); // used only before
      const spanning = sessionRecord(user.id, t0 + 1, { lastUsedAt: t0 + 3 * day }); // created before, used after
      const inside = sessionRecord(other.id, t0 + day); // of another user
      const afterwards = sessionRecord(user.id, t0 + 2 * day + 1); // created after
      const ended = sessionRecord(user.id, t0 + day + 1, { revokedAt: t0 + day + 2 });
      await add(s, user, [before, spanning, afterwards, ended]);
      await add(s, other, [inside]);
      const found = await s.sessions.usedBetween(t0 + hourish, t0 + 2 * day, t0 + day + 3);
      assert.deepEqual([...found].sort(byId), [spanning, inside].map((x) => ({ id: x.id, userId: x.userId })).sort(byId));
    });

    describe('create', () => {
      it('create with the user\'s credential stamp stores a session that get returns, amr included; get of an unknown id is null', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        const session = sessionRecord(user.id, t0, { userAgent: 'curl/8', ip: '203.0.113.9', generation: 3, previousHash: randomHash(), rotatedAt: t0 + 1, graceBox: 'box', accessExpiresAt: t0 + 7 * minute, accessHash: randomHash(), amr: ['hwk', 'pin', 'mfa'] });
        assert.equal(await s.sessions.create(session, user.credentialStamp), true);
        assert.deepEqual(await s.sessions.get(session.id), session);
        assert.equal(await s.sessions.get(uuidv7(t0)), null);
      });

      it('create with another credential stamp returns false and writes nothing', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        const session = sessionRecord(user.id, t0);
        assert.equal(await s.sessions.create(session, user.credentialStamp + 1), false);
        assert.equal(await s.sessions.get(session.id), null);
        assert.deepEqual(await s.sessions.listLive(user.id, t0), []);
      });

      it('create after a credential change fails with the old stamp and succeeds with the new one', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        const stamp = await s.credentials.replace(credentialRecord(user.id, 'password', t0 + 1), t0 + 1);
        assert.equal(typeof stamp, 'number');
        assert.notEqual(stamp, user.credentialStamp);
        assert.equal((await s.users.byId(user.id))!.credentialStamp, stamp);
        const racing = sessionRecord(user.id, t0 + 2);
        assert.equal(await s.sessions.create(racing, user.credentialStamp), false);
        assert.equal(await s.sessions.get(racing.id), null);
        const fresh = sessionRecord(user.id, t0 + 3);
        assert.equal(await s.sessions.create(fresh, stamp!), true);
        assert.deepEqual(await s.sessions.get(fresh.id), fresh);
      });

      it('create for a disabled user returns false and writes nothing', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        await s.users.update(user.id, { disabledAt: t0 + 1 }, t0 + 1);
        const session = sessionRecord(user.id, t0 + 2);
        assert.equal(await s.sessions.create(session, user.credentialStamp), false);
        assert.equal(await s.sessions.get(session.id), null);
        assert.deepEqual(await s.sessions.listLive(user.id, t0 + 2), []);
        await s.users.update(user.id, { disabledAt: null }, t0 + 3);
        assert.equal(await s.sessions.create(session, user.credentialStamp), true, 'enabled again');
      });

      it('create for an unknown user returns false and writes nothing', async (s) => {
        const ghost = userRecord('ghost@example.com');
        const session = sessionRecord(ghost.id, t0);
        assert.equal(await s.sessions.create(session, ghost.credentialStamp), false);
        assert.equal(await s.sessions.get(session.id), null);
      });
    });

    it('listLive returns the user\'s unrevoked, unexpired sessions, newest first', async (s) => {
      const { user, sessions: [a, b, c] } = await userWithSessions(s, 'a@example.com', t0, t0 + minute, t0 + 2 * minute);
      await userWithSessions(s, 'other@example.com', t0 + 3 * minute);
      const expired = sessionRecord(user.id, t0 + 4 * minute, { expiresAt: t0 + 5 * minute });
      await add(s, user, [expired]);
      await s.sessions.revoke({ sessionId: b!.id }, t0 + 6 * minute, headroom);
      const live = await s.sessions.listLive(user.id, t0 + 10 * minute);
      assert.deepEqual(live.map((x) => x.id), [c!.id, a!.id]);
      const beforeExpiry = await s.sessions.listLive(user.id, t0 + 4 * minute + 1);
      assert.deepEqual(beforeExpiry.map((x) => x.id), [expired.id, c!.id, a!.id]);
    });

    it('listAllLive pages through every user\'s live sessions, newest id first, without repeats or gaps', async (s) => {
      const { sessions: mine } = await userWithSessions(s, 'a@example.com', t0, t0 + minute, t0 + 2 * minute);
      const { user: other, sessions: theirs } = await userWithSessions(s, 'other@example.com', t0 + 3 * minute, t0 + 4 * minute);
      const expired = sessionRecord(other.id, t0 + 5 * minute, { expiresAt: t0 + 6 * minute });
      await add(s, other, [expired]);
      await s.sessions.revoke({ sessionId: mine[1]!.id }, t0 + 7 * minute, headroom);
      const now = t0 + 10 * minute;
      const expected = [mine[0]!, mine[2]!, ...theirs].map((x) => x.id).sort().reverse();
      const pages: string[][] = [];
      let before: string | undefined;
      for (;;) {
        const page = await s.sessions.listAllLive(now, before === undefined ? { limit: 2 } : { limit: 2, before });
        assert.ok(page.length <= 2);
        if (page.length === 0) break;
        pages.push(page.map((x) => x.id));
        before = page.at(-1)!.id;
      }
      assert.deepEqual(pages.flat(), expected);
      assert.deepEqual(pages.map((p) => p.length), [2, 2]);
      assert.deepEqual((await s.sessions.listAllLive(now, { limit: 10 })).map((x) => x.userId).sort(), [mine[0]!.userId, mine[2]!.userId, other.id, other.id].sort());
      assert.deepEqual((await s.sessions.listAllLive(t0 + 5 * minute + 1, { limit: 10 })).some((x) => x.id === expired.id), true, 'live before its expiry');
    });

    describe('extendAccess', () => {
      it('extendAccess grows accessExpiresAt, never shrinks it, and touches nothing else', async (s) => {
        const { sessions: [session] } = await userWithSessions(s, 'a@example.com', t0);
        assert.equal(await s.sessions.extendAccess(session!.id, t0 + 20 * minute), true);
        assert.deepEqual(await s.sessions.get(session!.id), { ...session!, accessExpiresAt: t0 + 20 * minute });
        assert.equal(await s.sessions.extendAccess(session!.id, t0 + 10 * minute), true, 'a live session may be issued a token');
        assert.deepEqual(await s.sessions.get(session!.id), { ...session!, accessExpiresAt: t0 + 20 * minute });
      });

      it('extendAccess on a revoked or an unknown session returns false and changes nothing', async (s) => {
        const { sessions: [session] } = await userWithSessions(s, 'a@example.com', t0);
        await s.sessions.revoke({ sessionId: session!.id }, t0 + minute, headroom);
        assert.equal(await s.sessions.extendAccess(session!.id, t0 + 20 * minute), false);
        assert.deepEqual(await s.sessions.get(session!.id), { ...session!, revokedAt: t0 + minute });
        assert.equal(await s.sessions.extendAccess(uuidv7(t0), t0 + 20 * minute), false);
      });
    });

    describe('rotate (the one refresh step: consume exactly once)', () => {
      it('rotate with the current generation and hash swaps the refresh state, sets lastUsedAt, only grows accessExpiresAt, and returns the user', async (s) => {
        const { user, sessions: [session] } = await userWithSessions(s, 'a@example.com', t0);
        const now = t0 + minute;
        const next = rotation(1, now, t0 + 30 * minute);
        assert.deepEqual(await s.sessions.rotate(session!.id, 0, session!.refreshHash, next, now), { user, amr: ['pwd'], authTime: session!.authTime });
        const { generation, refreshHash, previousHash, rotatedAt, graceBox, expiresAt, accessExpiresAt, accessHash } = next;
        assert.deepEqual(await s.sessions.get(session!.id), {
          ...session!, generation, refreshHash, previousHash, rotatedAt, graceBox, expiresAt, accessExpiresAt, accessHash, lastUsedAt: now,
        });
        assert.equal(await s.sessions.rotate(session!.id, 0, session!.refreshHash, rotation(1, now + 1), now + 1), null, 'a spent token rotates nothing');
        const shorter = rotation(2, now + 2, t0 + 10 * minute);
        assert.deepEqual(await s.sessions.rotate(session!.id, 1, next.refreshHash, shorter, now + 2), { user, amr: ['pwd'], authTime: session!.authTime });
        assert.equal((await s.sessions.get(session!.id))?.accessExpiresAt, t0 + 30 * minute, 'accessExpiresAt only grows');
      });

      it('of 20 concurrent rotations with the same token exactly one gets the user', async (s) => {
        const { user, sessions: [session] } = await userWithSessions(s, 'a@example.com', t0);
        const now = t0 + minute;
        const attempts = Array.from({ length: 20 }, () => rotation(1, now));
        const results = await Promise.all(attempts.map((r) => s.sessions.rotate(session!.id, 0, session!.refreshHash, r, now)));
        assert.equal(results.filter((r) => r !== null).length, 1);
        assert.deepEqual(results.find((r) => r !== null), { user, amr: ['pwd'], authTime: session!.authTime });
        const winner = attempts[results.findIndex((r) => r !== null)]!;
        assert.equal((await s.sessions.get(session!.id))?.refreshHash, winner.refreshHash);
      });

      it('rotate with a wrong hash or generation, or on a revoked, expired, unknown or disabled user\'s session, returns null and changes nothing', async (s) => {
        const { user, sessions: [a, revoked, expiring] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1, t0 + 2);
        const now = t0 + minute;
        assert.equal(await s.sessions.rotate(a!.id, 0, randomHash(), rotation(1, now), now), null, 'wrong hash');
        assert.equal(await s.sessions.rotate(a!.id, 1, a!.refreshHash, rotation(2, now), now), null, 'wrong generation');
        assert.deepEqual(await s.sessions.get(a!.id), a);
        await s.sessions.revoke({ sessionId: revoked!.id }, now, headroom);
        assert.equal(await s.sessions.rotate(revoked!.id, 0, revoked!.refreshHash, rotation(1, now + 1), now + 1), null, 'revoked');
        assert.deepEqual(await s.sessions.get(revoked!.id), { ...revoked!, revokedAt: now });
        const late = expiring!.expiresAt + 1;
        assert.equal(await s.sessions.rotate(expiring!.id, 0, expiring!.refreshHash, rotation(1, late), late), null, 'expired');
        assert.deepEqual(await s.sessions.get(expiring!.id), expiring);
        assert.equal(await s.sessions.rotate(uuidv7(t0), 0, randomHash(), rotation(1, now), now), null, 'unknown');
        await s.users.update(user.id, { disabledAt: now }, now);
        assert.equal(await s.sessions.rotate(a!.id, 0, a!.refreshHash, rotation(1, now + 2), now + 2), null, 'user disabled');
        assert.deepEqual(await s.sessions.get(a!.id), a);
      });

      it('a session bound to a DPoP key keeps it, and rotates only with that key (a mismatch spends nothing); an unbound one rotates with any or none', async (s) => {
        const user = userRecord('dpop@example.com');
        await s.users.create(user);
        const jkt = randomHash();
        const bound = sessionRecord(user.id, t0, { dpopJkt: jkt });
        const plain = sessionRecord(user.id, t0 + 1);
        await add(s, user, [bound, plain]);
        assert.deepEqual(await s.sessions.get(bound.id), bound);
        const now = t0 + minute;
        assert.equal(await s.sessions.rotate(bound.id, 0, bound.refreshHash, { ...rotation(1, now), dpopJkt: randomHash() }, now), null, 'another key');
        assert.equal(await s.sessions.rotate(bound.id, 0, bound.refreshHash, rotation(1, now), now), null, 'no key');
        assert.deepEqual(await s.sessions.get(bound.id), bound, 'nothing spent');
        assert.deepEqual(await s.sessions.rotate(bound.id, 0, bound.refreshHash, { ...rotation(1, now), dpopJkt: jkt }, now), { user, amr: ['pwd'], authTime: bound.authTime, dpopJkt: jkt });
        assert.equal((await s.sessions.get(bound.id))?.dpopJkt, jkt, 'still bound');
        assert.deepEqual(await s.sessions.rotate(plain.id, 0, plain.refreshHash, { ...rotation(1, now), dpopJkt: randomHash() }, now), { user, amr: ['pwd'], authTime: plain.authTime });
        assert.equal((await s.sessions.get(plain.id))?.dpopJkt, undefined, 'a proof at refresh does not bind');
      });
    });

    describe('revoke', () => {
      it('revoke by sessionId ends that session only and returns its revocation', async (s) => {
        const { sessions: [a, b] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1);
        const at = t0 + minute;
        const out = await s.sessions.revoke({ sessionId: a!.id }, at, headroom);
        assert.deepEqual(out, [revocationOf(a!, at)]);
        assert.equal(out[0]!.expiresAt, t0 + accessLifetime + headroom, 'lives until the access token plus headroom');
        assert.equal((await s.sessions.get(a!.id))?.revokedAt, at);
        assert.equal((await s.sessions.get(b!.id))?.revokedAt, null);
        assert.deepEqual(await s.sessions.revoke({ sessionId: a!.id }, at + 1, headroom), []);
        assert.deepEqual(await s.revocations.liveRevocations(at), out);
      });

      it('revoke clears the opaque access mapping of the sessions it ends, and only theirs', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        const [a, b, c] = [t0, t0 + 1, t0 + 2].map((at) => sessionRecord(user.id, at, { accessHash: randomHash() }));
        await add(s, user, [a!, b!, c!]);
        await s.sessions.revoke({ sessionId: a!.id }, t0 + minute, headroom);
        assert.equal((await s.sessions.get(a!.id))?.accessHash, null);
        await s.sessions.revoke({ userId: user.id, exceptSessionId: c!.id }, t0 + minute, headroom);
        assert.equal((await s.sessions.get(b!.id))?.accessHash, null);
        assert.equal((await s.sessions.get(c!.id))?.accessHash, c!.accessHash, 'the kept session keeps its handle');
      });

      it('revoke by sessionId with another user\'s id ends nothing', async (s) => {
        const { user, sessions: [a] } = await userWithSessions(s, 'a@example.com', t0);
        const { user: other } = await userWithSessions(s, 'b@example.com');
        assert.deepEqual(await s.sessions.revoke({ sessionId: a!.id, userId: other.id }, t0 + minute, headroom), []);
        assert.equal((await s.sessions.get(a!.id))?.revokedAt, null);
        assert.deepEqual(await s.revocations.liveRevocations(t0 + minute), []);
        assert.deepEqual(await s.sessions.revoke({ sessionId: a!.id, userId: user.id }, t0 + minute, headroom), [revocationOf(a!, t0 + minute)]);
      });

      it('revoking an unknown session, or one expired on both counts, returns nothing', async (s) => {
        const { sessions: [a] } = await userWithSessions(s, 'a@example.com', t0);
        assert.deepEqual(await s.sessions.revoke({ sessionId: uuidv7(t0) }, t0 + 1, headroom), []);
        assert.ok(a!.accessExpiresAt < a!.expiresAt);
        assert.deepEqual(await s.sessions.revoke({ sessionId: a!.id }, a!.expiresAt, headroom), [], 'expiry is exclusive');
        assert.equal((await s.sessions.get(a!.id))?.revokedAt, null);
        assert.deepEqual(await s.revocations.liveRevocations(t0), []);
      });

      it('a session past its refresh lifetime whose access token may still be valid is ended, with a revocation', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        const at = t0 + 5 * minute;
        const lingering = sessionRecord(user.id, t0, { expiresAt: t0 + minute, accessExpiresAt: t0 + 10 * minute });
        const lingeringToo = sessionRecord(user.id, t0 + 1, { expiresAt: t0 + minute, accessExpiresAt: at + 1 });
        const dead = sessionRecord(user.id, t0 + 2, { expiresAt: t0 + minute, accessExpiresAt: t0 + 2 * minute });
        const deadAtTheEdge = sessionRecord(user.id, t0 + 3, { expiresAt: at, accessExpiresAt: at });
        await add(s, user, [lingering, lingeringToo, dead, deadAtTheEdge]);
        assert.deepEqual(await s.sessions.revoke({ sessionId: lingering.id }, at, headroom), [revocationOf(lingering, at)]);
        assert.equal((await s.sessions.get(lingering.id))?.revokedAt, at);
        assert.deepEqual(await s.sessions.revoke({ sessionId: dead.id }, at, headroom), []);
        assert.deepEqual(await s.sessions.revoke({ userId: user.id }, at, headroom), [revocationOf(lingeringToo, at)]);
        for (const x of [dead, deadAtTheEdge]) assert.deepEqual(await s.sessions.get(x.id), x, 'expired on both counts: untouched');
        assert.deepEqual((await s.revocations.liveRevocations(at)).sort(byId), [revocationOf(lingering, at), revocationOf(lingeringToo, at)].sort(byId));
      });

      it('each revocation lives until its own session\'s accessExpiresAt plus the headroom', async (s) => {
        const { user, sessions: [plain, extended, rotated] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1, t0 + 2);
        await s.sessions.extendAccess(extended!.id, t0 + 40 * minute);
        await s.sessions.rotate(rotated!.id, 0, rotated!.refreshHash, rotation(1, t0 + minute, t0 + 25 * minute), t0 + minute);
        const at = t0 + 2 * minute;
        const out = await s.sessions.revoke({ userId: user.id }, at, headroom);
        assert.deepEqual(out.map((r) => [r.id, r.expiresAt]).sort(), [
          [plain!.id, t0 + accessLifetime + headroom],
          [extended!.id, t0 + 40 * minute + headroom],
          [rotated!.id, t0 + 25 * minute + headroom],
        ].sort());
        assert.deepEqual((await s.revocations.liveRevocations(at)).sort(byId), [...out].sort(byId));
      });

      it('revoke by userId with exceptSessionId ends every other live session of that user', async (s) => {
        const { user, sessions: [keep, x, y] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1, t0 + 2);
        const { sessions: [foreign] } = await userWithSessions(s, 'b@example.com', t0);
        const at = t0 + minute;
        const out = await s.sessions.revoke({ userId: user.id, exceptSessionId: keep!.id }, at, headroom);
        assert.deepEqual([...out].sort(byId), [x!, y!].map((r) => revocationOf(r, at)).sort(byId));
        assert.deepEqual((await s.sessions.listLive(user.id, at)).map((r) => r.id), [keep!.id]);
        assert.equal((await s.sessions.get(foreign!.id))?.revokedAt, null);
        assert.deepEqual(await s.sessions.revoke({ userId: user.id, exceptSessionId: keep!.id }, at + 1, headroom), []);
      });

      it('revoke of a whole user ends every live session of that user, one revocation each, whatever their creation time', async (s) => {
        const at = t0 + minute;
        // A session stamped after `at` (its instance's clock runs ahead) is ended too: no clocks are compared.
        const { user, sessions: [older, same, newer] } = await userWithSessions(s, 'a@example.com', t0, at, at + 1);
        const { sessions: [foreign] } = await userWithSessions(s, 'b@example.com', t0);
        const out = await s.sessions.revoke({ userId: user.id }, at, headroom);
        assert.deepEqual([...out].sort(byId), [older!, same!, newer!].map((r) => revocationOf(r, at)).sort(byId));
        assert.deepEqual((await s.revocations.liveRevocations(at)).sort(byId), [...out].sort(byId));
        for (const x of [older!, same!, newer!]) assert.equal((await s.sessions.get(x.id))?.revokedAt, at);
        assert.equal((await s.sessions.get(foreign!.id))?.revokedAt, null);
        assert.deepEqual(await s.sessions.listLive(user.id, at + 2), []);
        assert.deepEqual(await s.sessions.revoke({ userId: user.id }, at + 1, headroom), [], 'nothing left to end');
      });

      it('revoke of a whole user leaves already-ended sessions as they were', async (s) => {
        const at = t0 + day;
        const { user, sessions: [revoked] } = await userWithSessions(s, 'a@example.com', t0);
        const expired = sessionRecord(user.id, t0 + 1, { expiresAt: t0 + minute });
        await add(s, user, [expired]);
        await s.sessions.revoke({ sessionId: revoked!.id }, t0 + 2, headroom);
        assert.deepEqual(await s.sessions.revoke({ userId: user.id }, at, headroom), []);
        assert.equal((await s.sessions.get(revoked!.id))?.revokedAt, t0 + 2);
        assert.equal((await s.sessions.get(expired.id))?.revokedAt, null, 'an expired session is not live, so it is not ended again');
      });
    });

    describe('revocation feed', () => {
      it('liveRevocations returns the unexpired revocations, soonest expiry first', async (s) => {
        const { user } = await userWithSessions(s, 'a@example.com');
        const [a, b, c] = [1, 2, 3].map((i) => sessionRecord(user.id, t0 + i, { accessExpiresAt: t0 + i * minute }));
        await add(s, user, [a!, b!, c!]);
        // Revoked in another order than they expire: the order is by expiry, not by revocation.
        for (const x of [c!, a!, b!]) await s.sessions.revoke({ sessionId: x.id }, t0 + 30_000, headroom);
        assert.deepEqual((await s.revocations.liveRevocations(t0 + minute)).map((r) => r.id), [a!.id, b!.id, c!.id]);
        assert.deepEqual((await s.revocations.liveRevocations(t0 + minute + headroom)).map((r) => r.id), [b!.id, c!.id], 'expiry is exclusive');
        assert.deepEqual(await s.revocations.liveRevocations(t0 + 3 * minute + headroom), []);
      });

      it('lastRevokedAt names when the target was last ended, not before since, and only what the target covers', async (s) => {
        const { user, sessions: [a, b, c] } = await userWithSessions(s, 'last@example.com', t0, t0 + 1, t0 + 2);
        assert.equal(await s.revocations.lastRevokedAt({ sessionId: a!.id }, t0), null, 'live: never ended');
        await s.sessions.revoke({ sessionId: a!.id }, t0 + minute, headroom);
        await s.sessions.revoke({ sessionId: b!.id }, t0 + 2 * minute, headroom);
        assert.equal(await s.revocations.lastRevokedAt({ sessionId: a!.id }, t0), t0 + minute);
        assert.equal(await s.revocations.lastRevokedAt({ sessionId: a!.id }, t0 + minute + 1), null, 'ended before since');
        assert.equal(await s.revocations.lastRevokedAt({ sessionId: a!.id, userId: 'someone-else' }, t0), null, 'not that user\'s');
        assert.equal(await s.revocations.lastRevokedAt({ userId: user.id }, t0), t0 + 2 * minute);
        assert.equal(await s.revocations.lastRevokedAt({ userId: user.id, exceptSessionId: b!.id }, t0), t0 + minute);
        assert.equal(await s.revocations.lastRevokedAt({ userId: user.id }, t0 + 3 * minute), null);
        void c;
      });

      it('revocationsSince(null) returns a cursor after which only newer revocations come', async (s) => {
        const { sessions: [a, b, c] } = await userWithSessions(s, 'a@example.com', t0, t0 + 1, t0 + 2);
        await s.sessions.revoke({ sessionId: a!.id }, t0 + minute, headroom);
        const start = await s.revocations.revocationsSince(null, t0 + minute);
        assert.deepEqual(start.revocations, []);
        assert.equal(typeof start.cursor, 'string');
        assert.deepEqual(await s.revocations.revocationsSince(start.cursor, t0 + minute), { revocations: [], cursor: start.cursor, more: false });
        const [rb] = await s.sessions.revoke({ sessionId: b!.id }, t0 + 2 * minute, headroom);
        const next = await s.revocations.revocationsSince(start.cursor, t0 + 2 * minute);
        assert.deepEqual(next.revocations, [rb]);
        assert.notEqual(next.cursor, start.cursor);
        assert.deepEqual((await s.revocations.revocationsSince(next.cursor, t0 + 2 * minute)).revocations, []);
        const [rc] = await s.sessions.revoke({ sessionId: c!.id }, t0 + 3 * minute, headroom);
        const last = await s.revocations.revocationsSince(next.cursor, t0 + 3 * minute);
        assert.deepEqual(last.revocations, [rc]);
      });
    });

    describe('purge', () => {
      const options = { headroomMs: headroom, graceMs: 2 * minute };

      it('purge deletes ended sessions whose access tokens are past, and expired revocations', async (s) => {
        const now = t0 + 30 * day;
        const { user, sessions: [longRevoked, live] } = await userWithSessions(s, 'a@example.com', now - 3 * day, now - day);
        const recentlyRevoked = sessionRecord(user.id, now - 2 * day, { accessExpiresAt: now - minute });
        const expired = sessionRecord(user.id, t0, { expiresAt: now - minute });
        await add(s, user, [recentlyRevoked, expired]);
        await s.sessions.revoke({ sessionId: longRevoked!.id }, now - 2 * day, headroom);
        const [kept] = await s.sessions.revoke({ sessionId: recentlyRevoked.id }, now - 2 * minute, headroom);
        assert.deepEqual(await purgeBoth(s, now, options), { sessions: 2, revocations: 1 });
        assert.equal(await s.sessions.get(expired.id), null);
        assert.equal(await s.sessions.get(longRevoked!.id), null);
        assert.deepEqual(await s.sessions.get(recentlyRevoked.id), { ...recentlyRevoked, revokedAt: now - 2 * minute });
        assert.deepEqual(await s.sessions.get(live!.id), live);
        assert.deepEqual(await s.revocations.liveRevocations(now - 2 * day), [kept]);
        assert.deepEqual(await purgeBoth(s, now, options), { sessions: 0, revocations: 0 });
      });

      it('purge keeps an ended session while its access token plus the headroom may still be valid', async (s) => {
        const now = t0 + day;
        const { user } = await userWithSessions(s, 'a@example.com');
        const revoked = sessionRecord(user.id, t0, { accessExpiresAt: now + minute });
        const expired = sessionRecord(user.id, t0 + 1, { expiresAt: now - minute, accessExpiresAt: now - minute });
        await add(s, user, [revoked, expired]);
        assert.deepEqual(await s.sessions.revoke({ sessionId: revoked.id }, now - minute, headroom), [revocationOf(revoked, now - minute)]);
        assert.deepEqual(await purgeBoth(s, now, options), { sessions: 0, revocations: 0 });
        assert.deepEqual(await s.sessions.get(revoked.id), { ...revoked, revokedAt: now - minute });
        assert.deepEqual(await s.sessions.get(expired.id), expired);
        // Each goes exactly when its access token plus the headroom is over.
        assert.deepEqual(await purgeBoth(s, now - minute + headroom - 1, options), { sessions: 0, revocations: 0 });
        assert.deepEqual(await purgeBoth(s, now - minute + headroom, options), { sessions: 1, revocations: 0 });
        assert.equal(await s.sessions.get(expired.id), null);
        assert.deepEqual(await purgeBoth(s, now + minute + headroom, options), { sessions: 1, revocations: 1 });
        assert.equal(await s.sessions.get(revoked.id), null);
        assert.deepEqual(await s.revocations.liveRevocations(0), []);
      });

      it('purge clears grace boxes past the grace window, keeps those inside it, and keeps the sessions', async (s) => {
        const now = t0 + day;
        const { user, sessions: [unrotated] } = await userWithSessions(s, 'a@example.com', t0);
        const rotatedAt = (at: number) => ({ generation: 1, previousHash: randomHash(), rotatedAt: at, graceBox: randomHash() });
        const old = sessionRecord(user.id, t0 + 1, rotatedAt(now - options.graceMs - 1));
        const edge = sessionRecord(user.id, t0 + 2, rotatedAt(now - options.graceMs));
        const recent = sessionRecord(user.id, t0 + 3, rotatedAt(now - minute));
        await add(s, user, [old, edge, recent]);
        assert.deepEqual(await purgeBoth(s, now, options), { sessions: 0, revocations: 0 });
        assert.deepEqual(await s.sessions.get(old.id), { ...old, graceBox: null });
        for (const x of [edge, recent, unrotated!]) assert.deepEqual(await s.sessions.get(x.id), x);
      });

      it('purge works through more rows than fit in one batch', async (s) => {
        const now = t0 + day;
        const users = ['revoked', 'expired', 'live'].map((n) => userRecord(`${n}@example.com`));
        for (const u of users) assert.equal(await s.users.create(u), true);
        const [revokedUser, expiredUser, liveUser] = users as [UserRecord, UserRecord, UserRecord];
        const many = (n: number, user: UserRecord, overrides: Partial<SessionRecord> = {}) =>
          Array.from({ length: n }, (_, i) => sessionRecord(user.id, t0 + i, overrides));
        const revoked = many(1000, revokedUser); // exactly two full batches
        const expired = many(234, expiredUser, { expiresAt: t0 + 2 * minute });
        const graced = many(501, liveUser, { generation: 1, previousHash: 'p', rotatedAt: t0, graceBox: 'old box' });
        const keeper = sessionRecord(liveUser.id, t0);
        await add(s, revokedUser, revoked);
        await add(s, expiredUser, expired);
        await add(s, liveUser, [...graced, keeper]);
        assert.equal((await s.sessions.revoke({ userId: revokedUser.id }, t0 + minute, headroom)).length, 1000);
        assert.equal(await s.sessions.extendAccess(keeper.id, now + minute), true);
        const [kept] = await s.sessions.revoke({ sessionId: keeper.id }, now - minute, headroom);
        assert.deepEqual(await purgeBoth(s, now, options), { sessions: 1234, revocations: 1000 });
        for (const x of [...revoked, ...expired]) assert.equal(await s.sessions.get(x.id), null, x.id);
        assert.deepEqual(await s.revocations.liveRevocations(0), [kept]);
        assert.equal((await s.sessions.listLive(liveUser.id, now)).length, 501);
        for (const x of graced) assert.deepEqual(await s.sessions.get(x.id), { ...x, graceBox: null });
        assert.deepEqual(await purgeBoth(s, now, options), { sessions: 0, revocations: 0 });
      });
    });
  });
}
