import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RevocationLog } from '../../src/core/revocation-log.ts';
import type { Stores } from '../../src/core/stores.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { fastHasher, goodPassword, issuer, tempDir } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

/** The stores, with a revocation log whose revocationsSince throws synchronously while `broken`. */
function flaky(stores: Stores, state: { broken: boolean }): Stores {
  const log = stores.revocations;
  const revocationsSince: RevocationLog['revocationsSince'] = (cursor, now) => {
    if (state.broken && cursor !== null) throw new Error('store is down (thrown synchronously)');
    return log.revocationsSince(cursor, now);
  };
  const wrapped = new Proxy(log, {
    get: (target, prop) => (prop === 'revocationsSince' ? revocationsSince : Reflect.get(target, prop, target).bind(target)),
  });
  return new Proxy(stores, { get: (target, prop) => (prop === 'revocations' ? wrapped : Reflect.get(target, prop, target)) });
}

test('a poll that fails, even by throwing synchronously, does not stop later polls', async () => {
  const dir = tempDir();
  const path = `${dir.path}/t.db`;
  const state = { broken: false };
  const serverStores = openSqliteStores(path);
  const otherStores = openSqliteStores(path);
  const server = await createTokenstile({ stores: flaky(serverStores, state), issuer, passwordHasher: fastHasher });
  const other = await createTokenstile({ stores: otherStores, issuer, passwordHasher: fastHasher });
  try {
    await server.register({ email: 'poll@example.com', password: goodPassword });
    const login = await server.login({ email: 'poll@example.com', password: goodPassword });
    assert.ok(login.ok);
    state.broken = true;
    await assert.rejects(internals(server).syncRevocations(), /store is down/);
    await assert.rejects(internals(server).syncRevocations(), /store is down/);
    await other.revoke({ sessionId: login.value.session.id });
    state.broken = false;
    await internals(server).syncRevocations();
    assert.deepEqual(await server.authenticate(login.value.accessToken), { ok: false, code: 'session_revoked' });
  } finally {
    await server.close();
    await other.close();
    await serverStores.close();
    await otherStores.close();
    dir.cleanup();
  }
});
