/**
 * Remembers one-time values (DPoP proof `jti`s) so that a second use is refused (RFC 9449 §11.1).
 *
 * `claim` is atomic: of any number of callers claiming the same key within its TTL, on any
 * instance sharing the store, exactly one gets `true`. A key is forgotten after `ttlMs`; callers
 * pick a TTL that outlives the acceptance window of what they store, so an expired key can no
 * longer be accepted anyway. A store that cannot answer throws (the caller refuses: fail closed).
 */
export interface ProofReplayStore {
  /** True the first time `key` is claimed within `ttlMs`; false for every later claim. */
  claim(key: string, ttlMs: number): Promise<boolean> | boolean;
}

/** How many keys the memory store keeps at most by default. */
export const defaultReplayCapacity = 1_000_000;

/**
 * One process's replay store: the keys in memory, in claim order, expired ones dropped as new
 * ones come. Right for a single instance; instances behind one load balancer need a shared store
 * (Redis, `RedisProofReplayStore`), or a proof used on one could be replayed on another.
 *
 * Bounded: past `capacity` live keys the oldest are dropped (logged once), which could let a
 * proof older than its peers be replayed; size it above the proofs one window can bring.
 */
export class MemoryProofReplayStore implements ProofReplayStore {
  readonly #expiries = new Map<string, number>();
  readonly #now: () => number;
  readonly #capacity: number;
  readonly #onOverflow: (() => void) | undefined;
  #warned = false;

  constructor(options: { now?: () => number; capacity?: number; onOverflow?: () => void } = {}) {
    this.#now = options.now ?? Date.now;
    this.#capacity = options.capacity ?? defaultReplayCapacity;
    this.#onOverflow = options.onOverflow;
  }

  claim(key: string, ttlMs: number): boolean {
    const now = this.#now();
    this.#dropExpired(now);
    const until = this.#expiries.get(key);
    if (until !== undefined && until > now) return false;
    if (this.#expiries.size >= this.#capacity) {
      this.#expiries.delete(this.#expiries.keys().next().value!);
      if (!this.#warned) {
        this.#warned = true;
        this.#onOverflow?.();
      }
    }
    // Deleted first, so that the key moves to the end of the claim order.
    this.#expiries.delete(key);
    this.#expiries.set(key, now + ttlMs);
    return true;
  }

  /** Number of keys kept. */
  get size(): number {
    return this.#expiries.size;
  }

  #dropExpired(now: number): void {
    // Keys are in claim order and every caller uses one TTL, so the expired ones come first.
    for (const [key, until] of this.#expiries) {
      if (until > now) return;
      this.#expiries.delete(key);
    }
  }
}
