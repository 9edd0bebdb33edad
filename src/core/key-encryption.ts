import { createCipheriv, createDecipheriv } from 'node:crypto';
import { ConfigError } from './errors.ts';
import { secureRandom } from './ids.ts';
import type { KeyStore } from './key-store.ts';
import type { JsonWebKey, StoredSigningKey } from './keys.ts';

/** Marks a sealed value inside a stored JWK or secret (or a feature's sealed column). */
export const sealedPrefix = 'tsenc1.';

/** Reads a key-encryption key: 32 bytes, base64url or base64. */
export function parseKeyEncryptionKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), /[-_]/.test(text) ? 'base64url' : 'base64');
  if (key.length !== 32) throw new ConfigError('keyEncryptionKey must be 32 random bytes, base64url-encoded (openssl rand -base64 32)');
  return key;
}

/** Seals `plain` under `key`, bound to `label` (AES-256-GCM); features seal their secrets with it too. */
export function sealValue(key: Buffer, plain: string, label: string): string {
  const iv = secureRandom(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(label));
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return sealedPrefix + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url');
}

/** Opens what `sealValue` sealed with the same key and label; a `ConfigError` otherwise. */
export function openSealed(key: Buffer, sealed: string, label: string): string {
  const raw = Buffer.from(sealed.slice(sealedPrefix.length), 'base64url');
  try {
    // A full 16-byte tag, always: a truncated value must not pass a shortened tag.
    if (raw.length < 12 + 16) throw new Error('sealed value too short');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(label));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new ConfigError('stored keys cannot be decrypted: keyEncryptionKey (TOKENSTILE_KEY_ENCRYPTION_KEY) is not the one they were sealed with', { cause: err });
  }
}

/** A private JWK as stored: `{ sealed }` when encrypted. */
function isSealed(jwk: JsonWebKey): jwk is JsonWebKey & { sealed: string } {
  return typeof (jwk as { sealed?: unknown }).sealed === 'string';
}

/**
 * The key store with private keys and server secrets sealed (AES-256-GCM) under `key`, bound to
 * their key id or name. Reads plaintext values written before encryption was turned on; without
 * `key`, refuses sealed values with a message that says which setting is missing.
 */
export function sealedKeyStore(inner: KeyStore, key: Buffer | null, logger?: { warn(obj: object, msg?: string): void }): KeyStore {
  const needKey = (): Buffer => {
    if (!key) throw new ConfigError('stored private keys are encrypted: set keyEncryptionKey (TOKENSTILE_KEY_ENCRYPTION_KEY)');
    return key;
  };
  const sealKey = (k: StoredSigningKey): StoredSigningKey =>
    key ? { ...k, privateJwk: { sealed: sealValue(key, JSON.stringify(k.privateJwk), `key:${k.kid}`) } as JsonWebKey } : k;
  let warned = false;
  const plaintext = (what: string) => {
    if (key && !warned) {
      warned = true;
      // Keys written after the setting are sealed; those written before stay as they are until
      // `tokenstile keys reseal` rewrites them (a rotation alone would leave the secrets and the
      // retired keys in the clear).
      logger?.warn({ what }, 'tokenstile: a key-encryption key is set, but keys or secrets written before it are still stored in plaintext: run `tokenstile keys reseal` to seal them');
    }
  };
  return {
    async listSigningKeys() {
      return (await inner.listSigningKeys()).map((k) => {
        if (isSealed(k.privateJwk)) return { ...k, privateJwk: JSON.parse(openSealed(needKey(), k.privateJwk.sealed, `key:${k.kid}`)) as JsonWebKey };
        plaintext(`signing key ${k.kid}`);
        return k;
      });
    },
    addSigningKey(k) {
      return inner.addSigningKey(sealKey(k));
    },
    rotateSigningKey(next, retireAt) {
      return inner.rotateSigningKey(sealKey(next), retireAt);
    },
    changeSigningKeys(change) {
      return inner.changeSigningKeys({ ...change, add: change.add.map(sealKey) });
    },
    // Raw access, for `resealKeyStore`: values as stored.
    replacePrivateJwk: (kid, from, to) => inner.replacePrivateJwk(kid, from, to),
    listSecrets: () => inner.listSecrets(),
    replaceSecret: (name, from, to) => inner.replaceSecret(name, from, to),
    async secret(name, create) {
      const stored = await inner.secret(name, () => (key ? sealValue(key, create(), `secret:${name}`) : create()));
      if (stored.startsWith(sealedPrefix)) return openSealed(needKey(), stored, `secret:${name}`);
      plaintext(`secret ${name}`);
      return stored;
    },
  };
}

/** What `resealKeyStore` rewrote: key ids and secret names, never a value. */
export interface ResealReport {
  readonly keys: readonly string[];
  readonly secrets: readonly string[];
}

/**
 * Seals, under `key`, every private key (signing, next, retired or expired) and every server
 * secret that `store` (the raw store, not `sealedKeyStore`) still holds in plaintext, in place:
 * same values, so tokens, refresh tokens and CSRF tokens issued before stay valid. Each value is
 * rewritten only if it is still the plaintext read (a concurrent writer wins, and the next run
 * seals what it wrote). Already sealed values are left alone; a value sealed under another key
 * fails the call, naming the setting. Idempotent.
 */
export async function resealKeyStore(store: KeyStore, key: Buffer): Promise<ResealReport> {
  const keys: string[] = [];
  for (const k of await store.listSigningKeys()) {
    if (isSealed(k.privateJwk)) {
      openSealed(key, k.privateJwk.sealed, `key:${k.kid}`); // another key-encryption key: say so now, not at the next start
      continue;
    }
    const sealed = { sealed: sealValue(key, JSON.stringify(k.privateJwk), `key:${k.kid}`) } as JsonWebKey;
    if (await store.replacePrivateJwk(k.kid, k.privateJwk, sealed)) keys.push(k.kid);
  }
  const secrets: string[] = [];
  for (const { name, value } of await store.listSecrets()) {
    if (value.startsWith(sealedPrefix)) {
      openSealed(key, value, `secret:${name}`);
      continue;
    }
    if (await store.replaceSecret(name, value, sealValue(key, value, `secret:${name}`))) secrets.push(name);
  }
  return { keys, secrets };
}
