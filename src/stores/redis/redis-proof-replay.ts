import type { ProofReplayStore } from '../../core/proof-replay.ts';
import type { RedisConnection } from './redis-client.ts';

/**
 * Proof `jti`s shared by every instance through Redis: `SET <prefix>dpop:{<key>} 1 NX PX <ttl>`,
 * atomic, so of any number of instances claiming one key only the first gets `true`; Redis drops
 * the key after its TTL. The key is already a hash (of the proof's key and `jti`), never a proof.
 * A Redis that cannot answer throws (`StoreUnavailableError` through `guardStore`): the proof is
 * refused with 503, never accepted unchecked.
 */
export class RedisProofReplayStore implements ProofReplayStore {
  readonly #redis: RedisConnection;

  constructor(redis: RedisConnection) {
    this.#redis = redis;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#redis.client.set(`${this.#redis.keyPrefix}dpop:{${key}}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return reply === 'OK';
  }
}
