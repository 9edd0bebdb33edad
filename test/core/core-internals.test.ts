// The public core holds what applications call; raw stores, maintenance and the revocation
// stream's internals sit on internals(core), which the package entry point does not export.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as packageEntry from '../../src/index.ts';
import { internals } from '../../src/core/core-internals.ts';
import { createTokenstile, type Tokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { fastHasher, issuer, tempDir } from '../helpers.ts';

const internalNames = ['stores', 'tick', 'syncRevocations', 'liveRevocations', 'onRevocations', 'holdForVerifiers', 'csrf', 'refreshTokenSession'];

test('the core object carries no stores, maintenance or stream internals; internals(core) does', async () => {
  const dir = tempDir();
  const stores = openSqliteStores(`${dir.path}/t.db`);
  const core = await createTokenstile({ stores, issuer, passwordHasher: fastHasher });
  try {
    for (const name of internalNames) assert.equal(name in core, false, `core.${name} is public`);
    const handle = internals(core);
    for (const name of internalNames) assert.notEqual(handle[name as keyof typeof handle], undefined, name);
    assert.equal(handle.stores, stores);
    assert.deepEqual(handle.liveRevocations(), []);
    for (const name of ['login', 'startSession', 'authenticate', 'logout', 'revoke', 'purge', 'jwks', 'rotateKeys']) assert.equal(typeof (core as unknown as Record<string, unknown>)[name], 'function', name);
  } finally {
    await core.close();
    await stores.close();
    dir.cleanup();
  }
});

test('internals() refuses an object that createTokenstile did not make', () => {
  assert.throws(() => internals({} as Tokenstile), TypeError);
});

test('the package entry point does not export internals', () => {
  assert.equal('internals' in packageEntry, false);
  assert.equal('attachInternals' in packageEntry, false);
});
