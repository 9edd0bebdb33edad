import type { StoredSigningKey } from './keys.ts';

/** Durable storage of signing keys and server secrets. */
export interface KeyStore {
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /**
   * Adds an active key unless one of its algorithm is already active (or its `kid` exists), in
   * one atomic step: of concurrent callers, exactly one adds. Returns whether this call added.
   */
  addSigningKey(key: StoredSigningKey): Promise<boolean>;
  /**
   * The secret called `name`, created with `create()` when absent. Concurrent first calls (two
   * instances starting together) all get the value that was written first.
   */
  secret(name: string, create: () => string): Promise<string>;
}
