import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { runCli } from '../../src/cli/main.ts';
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

test('keys reseal seals what was written before the key-encryption key: nothing stays in the clear, old tokens still verify', async () => {
  const dir = tempDir();
  const path = `${dir.path}/r.db`;
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${path}`, TOKENSTILE_ISSUER: issuer };
  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => '' }, { ...env, ...extra });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  try {
    // Written in the clear: a key that now only verifies (retired by a rotation), the key that
    // signs, the refresh-token and CSRF secrets.
    const plain = await start(path);
    await plain.core.register({ email: 'r@example.com', password: goodPassword });
    const old = await plain.core.login({ email: 'r@example.com', password: goodPassword });
    assert.ok(old.ok);
    await plain.core.rotateKeys({ publishAheadMs: 0 });
    const privateParts = (await plain.stores.keys.listSigningKeys()).map((k) => String(k.privateJwk.d));
    assert.equal(privateParts.length, 2);
    const secretValues = (await plain.stores.keys.listSecrets()).map((s) => s.value);
    assert.equal(secretValues.length, 2);
    await plain.close();

    const warnings: string[] = [];
    const logger = { warn: (_: object, msg?: string) => warnings.push(msg ?? ''), info: () => {}, error: () => {} };
    const stores = openSqliteStores(path);
    const before = await createTokenstile({ stores, issuer, passwordHasher: fastHasher, keyEncryptionKey: kek, logger: logger as never });
    await before.close();
    await stores.close();
    assert.match(warnings.join('\n'), /plaintext: run `tokenstile keys reseal`/, 'the warning names the command that fixes it');

    assert.equal((await cli(['keys', 'reseal'])).code, 1, 'no key-encryption key: nothing to seal with');
    const resealed = await cli(['keys', 'reseal', '--json'], { TOKENSTILE_KEY_ENCRYPTION_KEY: kek });
    assert.equal(resealed.code, 0, resealed.err);
    const report = JSON.parse(resealed.out);
    assert.equal(report.keys.length, 2);
    assert.deepEqual(report.secrets, ['csrf-token-mac', 'refresh-token-mac']);
    const again = await cli(['keys', 'reseal'], { TOKENSTILE_KEY_ENCRYPTION_KEY: kek });
    assert.match(again.out, /nothing stored in plaintext/);

    // Under the seal: no private part or secret in the rows, nor anywhere in the database files.
    const raw = openSqliteStores(path);
    try {
      for (const k of await raw.keys.listSigningKeys()) assert.deepEqual(Object.keys(k.privateJwk), ['sealed'], k.kid);
      for (const s of await raw.keys.listSecrets()) assert.match(s.value, /^tsenc1\./, s.name);
    } finally {
      await raw.close();
    }
    const files = readdirSync(dir.path).filter((f) => f.startsWith('r.db')).map((f) => readFileSync(`${dir.path}/${f}`).toString('latin1'));
    for (const secret of [...privateParts, ...secretValues]) {
      assert.equal(files.some((bytes) => bytes.includes(secret)), false, 'a plaintext key or secret is left in the database files');
    }

    // A restart with the key verifies and refreshes what was issued before; without it, it refuses to start.
    const after = await start(path, kek);
    try {
      assert.ok((await after.core.authenticate(old.value.accessToken)).ok, 'an access token signed by the (now retired) key before the reseal');
      assert.ok((await after.core.refresh(old.value.refreshToken)).ok, 'a refresh token MACed before the reseal');
    } finally {
      await after.close();
    }
    await assert.rejects(start(path), /encrypted: set keyEncryptionKey/);
  } finally {
    dir.cleanup();
  }
});
