import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { fastHasher, goodPassword, issuer, tempDir } from '../helpers.ts';

const kek = randomBytes(32).toString('base64url');

async function start(path: string, keyEncryptionKey?: string) {
  const stores = openSqliteStores(path);
  try {
    const core = await createTokenstile({ stores, issuer, passwordHasher: fastHasher, keyEncryptionKey });
    return { core, stores, close: async () => (await core.close(), await stores.close()) };
  } catch (err) {
    await stores.close();
    throw err;
  }
}

test('with a key-encryption key, private keys and secrets are sealed at rest and still work', async () => {
  const dir = tempDir();
  const path = `${dir.path}/k.db`;
  try {
    const a = await start(path, kek);
    await a.core.register({ email: 'k@example.com', password: goodPassword });
    const login = await a.core.login({ email: 'k@example.com', password: goodPassword });
    assert.ok(login.ok);
    const [stored] = await a.stores.keys.listSigningKeys(); // the raw store, under the seal
    assert.deepEqual(Object.keys(stored!.privateJwk), ['sealed']);
    assert.equal('d' in stored!.privateJwk, false, 'no private scalar in the database');
    const mac = await a.stores.keys.secret('refresh-token-mac', () => 'unused');
    assert.match(mac, /^tsenc1\./);
    await a.close();
    // A restart with the same key verifies old tokens and rotates old refresh tokens.
    const b = await start(path, kek);
    assert.ok((await b.core.authenticate(login.value.accessToken)).ok);
    assert.ok((await b.core.refresh(login.value.refreshToken)).ok);
    await b.close();
    await assert.rejects(start(path), /encrypted: set keyEncryptionKey/);
    await assert.rejects(start(path, randomBytes(32).toString('base64url')), /cannot be decrypted/);
    await assert.rejects(start(path, 'too-short'), /32 random bytes/);
  } finally {
    dir.cleanup();
  }
});

test('keys written before encryption was turned on stay readable', async () => {
  const dir = tempDir();
  const path = `${dir.path}/p.db`;
  try {
    const plain = await start(path);
    const kid = plain.core.jwks().keys[0]!.kid;
    await plain.close();
    const sealed = await start(path, kek);
    assert.equal(sealed.core.jwks().keys[0]!.kid, kid);
    await sealed.close();
  } finally {
    dir.cleanup();
  }
});
