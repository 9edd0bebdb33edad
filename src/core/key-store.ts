import type { JsonWebKey, StoredSigningKey } from './keys.ts';

/**
 * A change to the stored signing keys, applied whole or not at all (see `changeSigningKeys`), in
 * this order: removals, retirement changes, additions.
 */
export interface SigningKeyChange {
  /** Keys to delete; each must exist. */
  readonly remove: readonly string[];
  /** New `retiredAt` values (null: active again), each applied only if the key's is still `from`. */
  readonly retire: ReadonlyArray<{ readonly kid: string; readonly from: number | null; readonly to: number | null }>;
  /** Keys to add; a taken kid, or a second active key of one algorithm, fails the change. */
  readonly add: readonly StoredSigningKey[];
}

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
   * Applies `change` in one atomic step: true when every part applied; false, writing nothing,
   * when a key to remove is gone, a retirement is no longer `from` (another change came first), or
   * an addition conflicts. Of concurrent changes built from the same reading, at most one applies.
   */
  changeSigningKeys(change: SigningKeyChange): Promise<boolean>;
  /**
   * Rewrites the stored private part of key `kid` (to seal it), only if it is still `from`.
   * Returns whether it was rewritten.
   */
  replacePrivateJwk(kid: string, from: JsonWebKey, to: JsonWebKey): Promise<boolean>;
  /** Every stored secret, as stored (sealed or not). */
  listSecrets(): Promise<Array<{ readonly name: string; readonly value: string }>>;
  /** Rewrites the stored value of secret `name` (to seal it), only if it is still `from`. Returns whether it was rewritten. */
  replaceSecret(name: string, from: string, to: string): Promise<boolean>;
  /**
   * The secret called `name`, created with `create()` when absent. Concurrent first calls (two
   * instances starting together) all get the value that was written first.
   */
  secret(name: string, create: () => string): Promise<string>;
}
