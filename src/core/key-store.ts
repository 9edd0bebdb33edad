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
   * A rotation, in one atomic step: the active key of `next.alg` gets `retiredAt = retireAt` (it
   * keeps signing until then, while `next` is already published) and `next` becomes the active key.
   * False, writing nothing, when no key of that algorithm is active or `next.kid` exists. Of
   * concurrent rotations, each either applies whole or not at all.
   */
  rotateSigningKey(next: StoredSigningKey, retireAt: number): Promise<boolean>;
  /**
   * The secret called `name`, created with `create()` when absent. Concurrent first calls (two
   * instances starting together) all get the value that was written first.
   */
  secret(name: string, create: () => string): Promise<string>;
}
