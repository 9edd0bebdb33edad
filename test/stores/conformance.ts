import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import pg from 'pg';
import { uuidv7 } from '../../src/core/ids.ts';
import { generateSigningKey } from '../../src/core/keys.ts';
import type { AuditEntry } from '../../src/core/audit-log.ts';
import type { CredentialRecord } from '../../src/core/credential-store.ts';
import type { SessionRecord } from '../../src/core/session-store.ts';
import type { Stores } from '../../src/core/stores.ts';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import type { StoredSigningKey } from '../../src/core/keys.ts';
import type { UserRecord } from '../../src/core/user-store.ts';

/** The PostgreSQL server the tests use: TOKENSTILE_TEST_POSTGRES_URL, or a local one with trust auth. */
export const testPostgresUrl = process.env.TOKENSTILE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * How to tell whether each backend's server answers; resolves when it does, rejects with the
 * reason otherwise. Embedded backends always answer. A new backend adds its probe here.
 */
const probes: Readonly<Record<string, () => Promise<void>>> = {
  sqlite: async () => {},
  postgres: async () => {
    const client = new pg.Client({ connectionString: testPostgresUrl, connectionTimeoutMillis: 1000, query_timeout: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => {});
    }
  },
};

/**
 * Backends named by TOKENSTILE_TEST_BACKENDS, a comma list. When it is unset, every backend this
 * suite knows, each run if its server answers (see `backendGate`).
 */
export function selectedBackends(): string[] {
  const raw = process.env.TOKENSTILE_TEST_BACKENDS;
  if (raw === undefined) return Object.keys(probes);
  return raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
}

/** Whether `name`'s server answers: `{ ok: false, reason }` when it does not, or when no probe is known. */
export async function backendReachable(name: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const probe = probes[name];
  if (!probe) return { ok: false, reason: `no probe for a backend called ${JSON.stringify(name)}` };
  try {
    await probe();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error && err.message ? err.message : String(err) };
  }
}

/**
 * Whether to run `name`'s tests: `run`; `skip` with a reason (printed loudly here) when it was not
 * selected, or when it was only selected by default and its server does not answer; or `fail` with
 * a reason when it was asked for by name, or CI=true, and its server does not answer. The caller
 * turns `fail` into a failing test, so a missing server can never pass a CI run unnoticed.
 */
export async function backendGate(name: string): Promise<{ run: true } | { run: false; skip: string } | { run: false; fail: string }> {
  if (!selectedBackends().includes(name)) {
    const skip = `TOKENSTILE_TEST_BACKENDS=${process.env.TOKENSTILE_TEST_BACKENDS ?? ''} does not include ${name}`;
    console.log(`# SKIPPED ${name} backend: ${skip}`);
    return { run: false, skip };
  }
  const reachable = await backendReachable(name);
  if (reachable.ok) return { run: true };
  const reason = `${name} is unreachable: ${reachable.reason}`;
  if (process.env.CI === 'true' || process.env.TOKENSTILE_TEST_BACKENDS !== undefined) return { run: false, fail: reason };
  console.log(`# SKIPPED ${name} backend: ${reason}`);
  return { run: false, skip: reason };
}

export const t0 = Date.UTC(2026, 0, 1);
export const minute = 60_000;
export const day = 86_400_000;
export const week = 7 * day;
/** The access-token lifetime that `sessionRecord` assumes by default. */
export const accessLifetime = 15 * minute;

export const randomHash = () => randomBytes(32).toString('base64url');

export function userRecord(email: string, at = t0): UserRecord {
  return { id: uuidv7(at), email, name: null, credentialStamp: 0, createdAt: at, updatedAt: at, disabledAt: null, emailVerifiedAt: null };
}

/** A credential of `userId` of `kind`, made at `at`, with a random secret. */
export function credentialRecord(userId: string, kind: string, at = t0): CredentialRecord {
  return { id: uuidv7(at), userId, kind, secret: `$argon2id$${randomHash()}`, createdAt: at, updatedAt: at };
}

/** A fresh session of `userId`; its access token expires `accessLifetime` after `createdAt` unless overridden. */
export function sessionRecord(userId: string, createdAt: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: uuidv7(createdAt), userId, createdAt, lastUsedAt: createdAt, expiresAt: createdAt + week,
    accessExpiresAt: createdAt + accessLifetime, revokedAt: null,
    userAgent: null, ip: null, generation: 0, refreshHash: randomHash(), previousHash: null, rotatedAt: null, graceBox: null,
    accessHash: null, amr: ['pwd'], authTime: createdAt, ...overrides,
  };
}

/**
 * `test` for one backend: opens fresh stores, hands them to `fn`, closes them whatever happens.
 * `open` must return a fresh, migrated, empty backend on every call.
 */
export function storeTest(open: () => Promise<Stores>) {
  return function it(title: string, fn: (stores: Stores) => Promise<void>): void {
    test(title, async () => {
      const stores = await open();
      try {
        await fn(stores);
      } finally {
        await stores.close();
      }
    });
  };
}

/**
 * Registers the contract tests of the user and key stores and of the lifecycle of `Stores` for one
 * backend (the session store's are in conformance-sessions.ts). `open` must return a fresh,
 * migrated, empty backend on every call; each test closes what it opened.
 */
export function describeStoreConformance(name: string, open: () => Promise<Stores>): void {
  const it = storeTest(open);

  describe(`${name}: Stores conformance`, () => {
    describe('audit log', () => {
      const entry = (at: number, type: string, userId: string | null): AuditEntry => ({
        at, type, userId, sessionId: null, ip: '203.0.113.7', userAgent: 'curl/8', detail: { scope: 'local' },
      });
      it('append and query: newest first, by user, limited, paged by seq', async (s) => {
        await s.audit.append([entry(t0, 'login_succeeded', 'u1'), entry(t0 + 1, 'login_failed', null)]);
        await s.audit.append([entry(t0 + 2, 'logged_out', 'u1'), entry(t0 + 3, 'login_succeeded', 'u2')]);
        const all = await s.audit.query({ limit: 10 });
        assert.deepEqual(all.map((e) => e.at), [t0 + 3, t0 + 2, t0 + 1, t0]);
        assert.ok(all.every((e, i) => i === 0 || e.seq! < all[i - 1]!.seq!), 'seq increases with appends');
        const u1 = await s.audit.query({ userId: 'u1', limit: 10 });
        assert.deepEqual(u1.map((e) => e.type), ['logged_out', 'login_succeeded']);
        assert.deepEqual(u1[0], { ...entry(t0 + 2, 'logged_out', 'u1'), seq: u1[0]!.seq });
        assert.deepEqual((await s.audit.query({ limit: 1 })).map((e) => e.at), [t0 + 3]);
        assert.deepEqual((await s.audit.query({ limit: 10, beforeSeq: all[1]!.seq })).map((e) => e.at), [t0 + 1, t0]);
      });
      it('purge deletes entries older than the cutoff only', async (s) => {
        await s.audit.append([entry(t0, 'a', 'u'), entry(t0 + day, 'b', 'u'), entry(t0 + 2 * day, 'c', 'u')]);
        assert.equal(await s.audit.purge(t0 + day), 1);
        assert.deepEqual((await s.audit.query({ limit: 10 })).map((e) => e.type), ['c', 'b']);
      });
    });

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
        const changed = await s.users.update(u.id, { name: null, disabledAt: t0 + 2 * minute }, t0 + 2 * minute);
        const expected = { ...u, name: null, disabledAt: t0 + 2 * minute, updatedAt: t0 + 2 * minute };
        assert.deepEqual(changed, expected);
        assert.deepEqual(await s.users.byId(u.id), expected);
        assert.deepEqual(await s.users.update(u.id, { disabledAt: null }, t0 + 3 * minute), { ...expected, disabledAt: null, updatedAt: t0 + 3 * minute });
      });

      it('update returns null for an unknown user', async (s) => {
        assert.equal(await s.users.update(uuidv7(t0), { name: 'x' }, t0), null);
      });
    });

    describe('credentials', () => {
      it('a user created with credentials has them, by kind, oldest first; a user without has none', async (s) => {
        const u = userRecord('creds@example.com');
        const password = credentialRecord(u.id, 'password', t0);
        const keys = [credentialRecord(u.id, 'passkey', t0 + 1), credentialRecord(u.id, 'passkey', t0 + 2)];
        assert.equal(await s.users.create(u, [password, keys[1]!, keys[0]!]), true);
        assert.deepEqual(await s.credentials.list(u.id, 'password'), [password]);
        assert.deepEqual(await s.credentials.list(u.id, 'passkey'), keys);
        assert.deepEqual(await s.credentials.list(u.id, 'totp'), []);
        const bare = userRecord('bare@example.com');
        assert.equal(await s.users.create(bare), true);
        assert.deepEqual(await s.credentials.list(bare.id, 'password'), []);
        assert.deepEqual(await s.credentials.list('', 'password'), []);
      });

      it('a user create refused for a taken email writes none of its credentials', async (s) => {
        assert.equal(await s.users.create(userRecord('taken@example.com')), true);
        const second = userRecord('taken@example.com', t0 + 1);
        assert.equal(await s.users.create(second, [credentialRecord(second.id, 'password')]), false);
        assert.deepEqual(await s.credentials.list(second.id, 'password'), []);
      });

      it('replace makes the credential the only one of its kind and moves the stamp on; other kinds stay', async (s) => {
        const u = userRecord('replace@example.com');
        const old = credentialRecord(u.id, 'password', t0);
        const passkey = credentialRecord(u.id, 'passkey', t0);
        await s.users.create(u, [old, passkey]);
        const next = credentialRecord(u.id, 'password', t0 + minute);
        const stamp = await s.credentials.replace(next, t0 + minute);
        assert.ok(typeof stamp === 'number' && stamp !== u.credentialStamp);
        assert.deepEqual(await s.credentials.list(u.id, 'password'), [next]);
        assert.deepEqual(await s.credentials.list(u.id, 'passkey'), [passkey]);
        assert.deepEqual(await s.users.byId(u.id), { ...u, credentialStamp: stamp, updatedAt: t0 + minute });
        const again = await s.credentials.replace(credentialRecord(u.id, 'password', t0 + 2 * minute), t0 + 2 * minute);
        assert.ok(again !== null && again !== stamp && again !== u.credentialStamp, 'every change moves it to a value not seen before');
        assert.equal(await s.credentials.replace(credentialRecord(uuidv7(t0), 'password'), t0), null, 'no such user');
      });

      it('add keeps the stamp; remove deletes one credential and moves the stamp; unknown ones change nothing', async (s) => {
        const u = userRecord('passkeys@example.com');
        await s.users.create(u);
        const key = credentialRecord(u.id, 'passkey', t0 + 1);
        assert.equal(await s.credentials.add(key), true);
        assert.equal(await s.credentials.add(key), false, 'the id is taken');
        assert.equal(await s.credentials.add(credentialRecord(uuidv7(t0), 'passkey')), false, 'no such user');
        assert.equal((await s.users.byId(u.id))!.credentialStamp, u.credentialStamp);
        assert.equal(await s.credentials.remove(u.id, uuidv7(t0), t0 + 2), false);
        assert.equal((await s.users.byId(u.id))!.credentialStamp, u.credentialStamp, 'nothing removed, stamp kept');
        const other = userRecord('other@example.com');
        await s.users.create(other);
        assert.equal(await s.credentials.remove(other.id, key.id, t0 + 2), false, 'another user\'s credential');
        assert.equal(await s.credentials.remove(u.id, key.id, t0 + 3), true);
        assert.deepEqual(await s.credentials.list(u.id, 'passkey'), []);
        assert.notEqual((await s.users.byId(u.id))!.credentialStamp, u.credentialStamp);
      });

      it('of concurrent replaces every one moves the stamp and one credential of the kind is left', async (s) => {
        const u = userRecord('racing-change@example.com');
        await s.users.create(u, [credentialRecord(u.id, 'password')]);
        const stamps = await Promise.all(Array.from({ length: 8 }, (_, i) => s.credentials.replace(credentialRecord(u.id, 'password', t0 + i + 1), t0 + i + 1)));
        assert.equal(new Set(stamps).size, 8, 'each change its own stamp');
        assert.equal((await s.credentials.list(u.id, 'password')).length, 1);
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

      it('rotateSigningKey schedules the active key\'s retirement and adds the next as active, atomically', async (s) => {
        const first = generateSigningKey('ES256', t0);
        const next = generateSigningKey('ES256', t0 + 10);
        assert.equal(await s.keys.rotateSigningKey(next, t0 + 1000), false, 'nothing to rotate yet');
        assert.deepEqual(await s.keys.listSigningKeys(), []);
        await s.keys.addSigningKey(first);
        assert.equal(await s.keys.rotateSigningKey(next, t0 + 1000), true);
        assert.deepEqual(await s.keys.listSigningKeys(), [{ ...first, retiredAt: t0 + 1000 }, next]);
        // A taken kid rolls the whole rotation back: the active key stays active.
        assert.equal(await s.keys.rotateSigningKey({ ...generateSigningKey('ES256', t0 + 20), kid: first.kid }, t0 + 2000), false);
        assert.deepEqual(await s.keys.listSigningKeys(), [{ ...first, retiredAt: t0 + 1000 }, next]);
      });

      it('of concurrent rotations each applies whole or not at all: one active key remains', async (s) => {
        await s.keys.addSigningKey(generateSigningKey('ES256', t0));
        const candidates = [1, 2, 3, 4].map((i) => generateSigningKey('ES256', t0 + i));
        await Promise.all(candidates.map((k, i) => s.keys.rotateSigningKey(k, t0 + 1000 + i)));
        const keys = await s.keys.listSigningKeys();
        assert.equal(keys.filter((k) => k.retiredAt === null).length, 1);
      });

      it('changeSigningKeys removes, re-times and adds in one step, or writes nothing when a part no longer holds', async (s) => {
        const a = generateSigningKey('ES256', t0);
        const b = generateSigningKey('ES256', t0 + 1);
        const c = generateSigningKey('ES256', t0 + 2);
        await s.keys.addSigningKey({ ...a, retiredAt: t0 + 500 });
        await s.keys.addSigningKey(b);
        // Replace the pending key b with c and re-time a: all of it.
        assert.equal(await s.keys.changeSigningKeys({ remove: [b.kid], retire: [{ kid: a.kid, from: t0 + 500, to: t0 + 900 }], add: [c] }), true);
        assert.deepEqual(await s.keys.listSigningKeys(), [{ ...a, retiredAt: t0 + 900 }, c]);
        const state = await s.keys.listSigningKeys();
        // A stale `from`, a key already gone, a second active key: none of the change is written.
        const d = generateSigningKey('ES256', t0 + 3);
        assert.equal(await s.keys.changeSigningKeys({ remove: [c.kid], retire: [{ kid: a.kid, from: t0 + 500, to: null }], add: [] }), false);
        assert.equal(await s.keys.changeSigningKeys({ remove: [b.kid], retire: [], add: [d] }), false);
        assert.equal(await s.keys.changeSigningKeys({ remove: [], retire: [{ kid: a.kid, from: t0 + 900, to: t0 + 950 }], add: [d] }), false, 'c is active: d cannot be too');
        assert.deepEqual(await s.keys.listSigningKeys(), state);
        // Of two changes built from the same reading, one applies.
        const racing = await Promise.all([d, generateSigningKey('ES256', t0 + 4)].map((k) => s.keys.changeSigningKeys({ remove: [], retire: [{ kid: c.kid, from: null, to: t0 + 990 }], add: [k] })));
        assert.deepEqual(racing.filter(Boolean).length, 1);
        assert.equal((await s.keys.listSigningKeys()).filter((k) => k.retiredAt === null).length, 1);
      });

      it('replacePrivateJwk and replaceSecret rewrite a value only while it is still the one read', async (s) => {
        const k = generateSigningKey('ES256', t0);
        await s.keys.addSigningKey(k);
        const sealed = { sealed: 'tsenc1.x' } as never;
        assert.equal(await s.keys.replacePrivateJwk(k.kid, k.publicJwk, sealed), false, 'not the stored value');
        assert.equal(await s.keys.replacePrivateJwk(k.kid, k.privateJwk, sealed), true);
        assert.deepEqual((await s.keys.listSigningKeys())[0]!.privateJwk, sealed);
        assert.equal(await s.keys.replacePrivateJwk(k.kid, k.privateJwk, sealed), false, 'already replaced');
        await s.keys.secret('mac', () => 'plain');
        assert.equal(await s.keys.replaceSecret('mac', 'other', 'tsenc1.y'), false);
        assert.equal(await s.keys.replaceSecret('mac', 'plain', 'tsenc1.y'), true);
        assert.deepEqual(await s.keys.listSecrets(), [{ name: 'mac', value: 'tsenc1.y' }]);
        assert.equal(await s.keys.secret('mac', () => 'new'), 'tsenc1.y');
      });

      it('clients: add refuses a taken id, list returns them oldest first, remove deletes one', async (s) => {
        const clients = s.clients!;
        assert.ok(clients, 'the backend has a client store');
        const a = { id: 'orders-api', secretHash: 'a'.repeat(43), createdAt: t0 };
        const b = { id: 'billing', secretHash: 'b'.repeat(43), createdAt: t0 + 1 };
        assert.equal(await clients.addClient(a), true);
        assert.equal(await clients.addClient(b), true);
        assert.equal(await clients.addClient({ ...a, secretHash: 'c'.repeat(43) }), false);
        assert.deepEqual(await clients.listClients(), [a, b]);
        assert.equal(await clients.removeClient('orders-api'), true);
        assert.equal(await clients.removeClient('orders-api'), false);
        assert.deepEqual(await clients.listClients(), [b]);
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

      test('a closed backend raises StoreUnavailableError from every store method, without driver text', async () => {
        const s = await open();
        // Build every store while open (SQLite builds them at first use), then close underneath them.
        const u = userRecord('closed@example.com');
        await s.users.create(u);
        await s.close();
        const session = sessionRecord(u.id, t0);
        const key = generateSigningKey('EdDSA', t0);
        const calls = closedStoreCalls(u, session, key);
        for (const [group, methods] of Object.entries(calls)) {
          for (const [method, call] of Object.entries(methods as Record<string, (s: Stores) => Promise<unknown>>)) {
            await assert.rejects(call(s), (err: unknown) => {
              assert.ok(err instanceof StoreUnavailableError, `${group}.${method}: ${String(err)}`);
              assert.equal(err.code, 'service_unavailable');
              assert.equal(err.message, `The store failed during ${group}.${method}; retry later.`);
              assert.ok(err.cause !== undefined, `${group}.${method} keeps the driver's error as cause`);
              return true;
            });
          }
        }
        await assert.rejects(s.ping(), StoreUnavailableError);
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

/**
 * Writes a user, a revoked session, a signing key and a secret through `open()`, closes, opens the
 * same database again with `open()`, and checks that all of it reads back unchanged.
 */
export async function assertDataSurvivesReopen(open: () => Promise<Stores>, headroom: number): Promise<void> {
  const first = await open();
  const user = userRecord('persist@example.com');
  const session = sessionRecord(user.id, t0);
  const key = generateSigningKey('ES256', t0);
  try {
    await first.users.create(user);
    assert.equal(await first.sessions.create(session, user.credentialStamp), true);
    await first.sessions.revoke({ sessionId: session.id }, t0 + 1, headroom);
    await first.keys.addSigningKey(key);
    await first.keys.secret('mac', () => 'kept');
  } finally {
    await first.close();
  }
  const reopened = await open();
  try {
    assert.deepEqual(await reopened.migrate(), []);
    assert.deepEqual(await reopened.users.byId(user.id), user);
    assert.deepEqual(await reopened.sessions.get(session.id), { ...session, revokedAt: t0 + 1 });
    assert.deepEqual(await reopened.revocations.liveRevocations(t0 + 2), [
      { kind: 'session', id: session.id, userId: user.id, revokedAt: t0 + 1, expiresAt: session.accessExpiresAt + headroom },
    ]);
    assert.deepEqual(await reopened.keys.listSigningKeys(), [key]);
    assert.equal(await reopened.keys.secret('mac', () => 'new'), 'kept');
  } finally {
    await reopened.close();
  }
}

type Calls<T> = { readonly [K in keyof T]-?: (s: Stores) => Promise<unknown> };

/**
 * One call of every method of every store, typed so that a method added to an interface must be
 * added here: the closed-backend test then covers it too.
 */
function closedStoreCalls(u: UserRecord, session: SessionRecord, key: StoredSigningKey) {
  const target = { sessionId: session.id } as const;
  const rotation = { generation: 1, refreshHash: randomHash(), previousHash: session.refreshHash, rotatedAt: t0, graceBox: 'x', expiresAt: t0 + week, accessExpiresAt: t0 + minute, accessHash: null };
  const users: Calls<Stores['users']> = {
    create: (s) => s.users.create(userRecord('other@example.com')),
    byId: (s) => s.users.byId(u.id),
    byEmail: (s) => s.users.byEmail(u.email),
    update: (s) => s.users.update(u.id, { name: 'x' }, t0),
    changeEmail: (s) => s.users.changeEmail(u.id, 'new@example.com', t0, t0),
  };
  const credential = credentialRecord(u.id, 'password');
  const credentials: Calls<Stores['credentials']> = {
    list: (s) => s.credentials.list(u.id, 'password'),
    add: (s) => s.credentials.add(credential),
    replace: (s) => s.credentials.replace(credential, t0),
    remove: (s) => s.credentials.remove(u.id, credential.id, t0),
  };
  const sessions: Calls<Stores['sessions']> = {
    create: (s) => s.sessions.create(session, 0),
    get: (s) => s.sessions.get(session.id),
    listLive: (s) => s.sessions.listLive(u.id, t0),
    listAllLive: (s) => s.sessions.listAllLive(t0, { limit: 10 }),
    rotate: (s) => s.sessions.rotate(session.id, 0, session.refreshHash, rotation, t0),
    extendAccess: (s) => s.sessions.extendAccess(session.id, t0),
    setAuthTime: (s) => s.sessions.setAuthTime(session.id, t0),
    usedBetween: (s) => s.sessions.usedBetween(t0, t0, t0),
    revoke: (s) => s.sessions.revoke(target, t0, minute),
    purge: (s) => s.sessions.purge(t0, { headroomMs: minute, graceMs: minute }),
  };
  const revocations: Calls<Stores['revocations']> = {
    lastRevokedAt: (s) => s.revocations.lastRevokedAt(target, t0),
    liveRevocations: (s) => s.revocations.liveRevocations(t0),
    revocationsSince: (s) => s.revocations.revocationsSince(null, t0),
    purge: (s) => s.revocations.purge(t0),
  };
  const keys: Calls<Stores['keys']> = {
    listSigningKeys: (s) => s.keys.listSigningKeys(),
    addSigningKey: (s) => s.keys.addSigningKey(key),
    rotateSigningKey: (s) => s.keys.rotateSigningKey(key, t0),
    changeSigningKeys: (s) => s.keys.changeSigningKeys({ remove: [], retire: [], add: [key] }),
    replacePrivateJwk: (s) => s.keys.replacePrivateJwk(key.kid, key.privateJwk, key.privateJwk),
    listSecrets: (s) => s.keys.listSecrets(),
    replaceSecret: (s) => s.keys.replaceSecret('csrf', 'a', 'b'),
    secret: (s) => s.keys.secret('csrf', () => 'x'),
  };
  const audit: Calls<Stores['audit']> = {
    append: (s) => s.audit.append([{ at: t0, type: 'login_failed', userId: null, sessionId: null, ip: null, userAgent: null, detail: {} }]),
    query: (s) => s.audit.query({ limit: 10 }),
    purge: (s) => s.audit.purge(t0),
  };
  const clients: Calls<NonNullable<Stores['clients']>> = {
    listClients: (s) => s.clients!.listClients(),
    addClient: (s) => s.clients!.addClient({ id: 'c1', secretHash: randomHash(), createdAt: t0 }),
    removeClient: (s) => s.clients!.removeClient('c1'),
  };
  const oneTimeTokens: Calls<Stores['oneTimeTokens']> = {
    insert: (s) => s.oneTimeTokens.insert({ hash: randomHash(), purpose: 'p', userId: u.id, subject: null, data: 'null', createdAt: t0, expiresAt: t0 + minute }, true),
    consume: (s) => s.oneTimeTokens.consume('p', randomHash(), t0),
    revokeFor: (s) => s.oneTimeTokens.revokeFor(u.id, ['p']),
    purge: (s) => s.oneTimeTokens.purge(t0),
  };
  const database: Calls<Omit<Stores['database'], 'dialect'>> = {
    query: (s) => s.database.query('SELECT 1'),
    execute: (s) => s.database.execute('DELETE FROM one_time_tokens'),
    transaction: (s) => s.database.transaction(async (db) => db.query('SELECT 1')),
  };
  return { users, credentials, sessions, revocations, keys, audit, clients, oneTimeTokens, database };
}
