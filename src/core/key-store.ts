import type { StoredSigningKey } from './keys.ts';

/** Durable storage of signing keys and server secrets. */
export interface KeyStore {
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /** Adds a key; a key with the same `kid` is left as it is. */
  addSigningKey(key: StoredSigningKey): Promise<void>;
  /**
   * The secret called `name`, created with `create()` when absent. Concurrent first calls (two
   * instances starting together) all get the value that was written first.
   */
  secret(name: string, create: () => string): Promise<string>;
}
