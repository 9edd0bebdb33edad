import { openSealed, sealedPrefix, sealValue } from '../../core/key-encryption.ts';

/**
 * Seals TOTP secrets at rest under the key-encryption key (`TOKENSTILE_KEY_ENCRYPTION_KEY`) when
 * one is set (AES-256-GCM, bound to the user id), as the core seals its private keys; without
 * one they are stored as they are. Reads both, so turning the key on later keeps old secrets
 * working (they are sealed the next time they are written).
 */
export interface SecretBox {
  seal(plain: string, label: string): string;
  open(stored: string, label: string): string;
}

export function secretBox(key: Buffer | null): SecretBox {
  return {
    seal: (plain, label) => (key ? sealValue(key, plain, label) : plain),
    open(stored, label) {
      if (!stored.startsWith(sealedPrefix)) return stored;
      if (!key) throw new Error('a TOTP secret is sealed: set keyEncryptionKey (TOKENSTILE_KEY_ENCRYPTION_KEY)');
      return openSealed(key, stored, label);
    },
  };
}
