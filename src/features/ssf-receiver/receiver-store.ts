import type { FeatureDatabase } from '../../core/feature.ts';
import { rows, run } from '../mfa/feature-sql.ts';

/** A stream registered at a transmitter (`createStream`). */
export interface RecordedStream {
  readonly streamId: string | null;
  /** The poll endpoint it named (poll delivery), or null. */
  readonly endpointUrl: string | null;
}

/**
 * The receiver's storage, shared by every instance through the core's database.
 * - `processed`/`recordProcessed`: a SET's `jti` hash is recorded after its sessions were ended, so
 *   a SET is never counted as done before it was; two instances processing the same SET at once
 *   both end its sessions (ending is idempotent) and one record stays.
 * - `takeLease`: of instances racing for a free (or expired) lease, one gets it; its holder renews it.
 */
export interface ReceiverStore {
  processed(receiver: string, jtiHash: string, now: number): Promise<boolean>;
  recordProcessed(receiver: string, jtiHash: string, expiresAt: number): Promise<void>;
  /** True when `holder` holds lease `name` until `expiresAt` now (taken, or renewed). */
  takeLease(name: string, holder: string, now: number, expiresAt: number): Promise<boolean>;
  /** Lets lease `name` go if `holder` holds it. */
  releaseLease(name: string, holder: string): Promise<void>;
  stream(receiver: string): Promise<RecordedStream | null>;
  recordStream(receiver: string, stream: RecordedStream, at: number): Promise<void>;
  /** Deletes the `jti` records past their expiry; returns how many went. */
  purge(now: number): Promise<number>;
}

export function sqlReceiverStore(db: FeatureDatabase): ReceiverStore {
  return {
    async processed(receiver, jtiHash, now) {
      return (await rows(db, 'SELECT 1 AS one FROM ssf_receiver_sets WHERE receiver = ? AND jti_hash = ? AND expires_at >= ?', [receiver, jtiHash, now])).length > 0;
    },
    async recordProcessed(receiver, jtiHash, expiresAt) {
      await run(db, 'INSERT INTO ssf_receiver_sets (receiver, jti_hash, expires_at) VALUES (?, ?, ?) ON CONFLICT (receiver, jti_hash) DO UPDATE SET expires_at = excluded.expires_at', [receiver, jtiHash, expiresAt]);
    },
    async takeLease(name, holder, now, expiresAt) {
      const changed = await run(
        db,
        `INSERT INTO ssf_receiver_leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE ssf_receiver_leases.holder = excluded.holder OR ssf_receiver_leases.expires_at < ?`,
        [name, holder, expiresAt, now],
      );
      return changed === 1;
    },
    async releaseLease(name, holder) {
      await run(db, 'DELETE FROM ssf_receiver_leases WHERE name = ? AND holder = ?', [name, holder]);
    },
    async stream(receiver) {
      const found = await rows<{ stream_id: string | null; endpoint_url: string | null }>(db, 'SELECT stream_id, endpoint_url FROM ssf_receiver_streams WHERE receiver = ?', [receiver]);
      return found[0] ? { streamId: found[0].stream_id, endpointUrl: found[0].endpoint_url } : null;
    },
    async recordStream(receiver, stream, at) {
      await run(db, 'INSERT INTO ssf_receiver_streams (receiver, stream_id, endpoint_url, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (receiver) DO NOTHING', [receiver, stream.streamId, stream.endpointUrl, at]);
    },
    purge: (now) => run(db, 'DELETE FROM ssf_receiver_sets WHERE expires_at < ?', [now]),
  };
}
