import type { FeatureDatabase } from '../../core/feature.ts';
import { num, rows, run } from '../mfa/feature-sql.ts';

/** How a stream delivers: pushed to the receiver (RFC 8935) or polled by it (RFC 8936). */
export const pushMethod = 'urn:ietf:rfc:8935';
export const pollMethod = 'urn:ietf:rfc:8936';

export type StreamStatus = 'enabled' | 'paused' | 'disabled';

/** The receiver's part of a stream's configuration, as stored (`authorization_header` sealed when a key-encryption key is set). */
export interface ReceiverConfig {
  readonly aud: string | readonly string[];
  readonly events_requested: readonly string[];
  readonly delivery: { readonly method: string; readonly endpoint_url?: string; readonly authorization_header?: string };
  readonly description?: string;
  /** Tokenstile extension: how `sub_id.user` names the user, `iss_sub` (default) or `email`. */
  readonly user_subject_format?: 'iss_sub' | 'email';
}

export interface StreamRecord {
  readonly id: string;
  readonly clientId: string;
  readonly config: ReceiverConfig;
  readonly status: StreamStatus;
  readonly reason: string | null;
  readonly createdAt: number;
}

/** One SET waiting in a stream's outbox. */
export interface OutboxEntry {
  readonly seq: number;
  readonly jti: string;
  readonly streamId: string;
  /** The SET's claims (JSON), signed when sent. */
  readonly claims: string;
  readonly attempts: number;
  /** When it was stored (ms). */
  readonly createdAt: number;
}

/** A SET to store: its stream, `jti`, and its claims (JSON). */
export interface NewSet {
  readonly streamId: string;
  readonly jti: string;
  readonly eventType: string;
  readonly claims: string;
}

interface StreamRow {
  id: string;
  client_id: string;
  config: string;
  status: string;
  reason: string | null;
  created_at: unknown;
}

const toStream = (r: StreamRow): StreamRecord => ({
  id: r.id,
  clientId: r.client_id,
  config: JSON.parse(r.config) as ReceiverConfig,
  status: r.status as StreamStatus,
  reason: r.reason,
  createdAt: num(r.created_at),
});

interface OutboxRow {
  seq: unknown;
  jti: string;
  stream_id: string;
  claims: string;
  attempts: unknown;
  created_at: unknown;
}

const toEntry = (r: OutboxRow): OutboxEntry => ({ seq: num(r.seq), jti: r.jti, streamId: r.stream_id, claims: r.claims, attempts: num(r.attempts), createdAt: num(r.created_at) });

/**
 * The transmitter's SQL, on the core's database. Guarantees:
 * - `append` writes a batch of SETs in one transaction, and trims each stream it wrote to back to
 *   `maxBacklog` (oldest first), answering how many it dropped.
 * - `claimDue` hands each due push entry to one caller: the rows are leased (`lease_until`) in the
 *   same statement that selects them (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs one
 *   statement at a time). A lease that runs out (a crashed instance) makes the row due again, so
 *   delivery is at least once.
 * - `remove` (after a 202 or an ack) deletes by stream and `jti`: a SET acknowledged is never
 *   delivered again.
 */
export class SsfStore {
  readonly #db: FeatureDatabase;
  constructor(db: FeatureDatabase) {
    this.#db = db;
  }

  async createStream(s: StreamRecord, maxPerClient: number): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      // Serializes creations of one client on PostgreSQL, so two racing ones cannot both pass the limit.
      if (db.dialect === 'postgres') await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ssf:${s.clientId}`]);
      const [n] = await rows<{ n: unknown }>(db, 'SELECT COUNT(*) AS n FROM ssf_streams WHERE client_id = ?', [s.clientId]);
      if (num(n!.n) >= maxPerClient) return false;
      await run(db, 'INSERT INTO ssf_streams (id, client_id, config, method, status, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        s.id, s.clientId, JSON.stringify(s.config), s.config.delivery.method, s.status, s.reason, s.createdAt, s.createdAt,
      ]);
      return true;
    });
  }

  async stream(id: string): Promise<StreamRecord | null> {
    const [r] = await rows<StreamRow>(this.#db, 'SELECT * FROM ssf_streams WHERE id = ?', [id]);
    return r === undefined ? null : toStream(r);
  }

  async streamsOf(clientId: string): Promise<StreamRecord[]> {
    return (await rows<StreamRow>(this.#db, 'SELECT * FROM ssf_streams WHERE client_id = ? ORDER BY created_at, id', [clientId])).map(toStream);
  }

  /** Every stream that takes events now (enabled or paused). */
  async liveStreams(): Promise<StreamRecord[]> {
    return (await rows<StreamRow>(this.#db, "SELECT * FROM ssf_streams WHERE status <> 'disabled'")).map(toStream);
  }

  async updateConfig(id: string, config: ReceiverConfig, now: number): Promise<boolean> {
    return (await run(this.#db, 'UPDATE ssf_streams SET config = ?, method = ?, updated_at = ? WHERE id = ?', [JSON.stringify(config), config.delivery.method, now, id])) === 1;
  }

  async setStatus(id: string, status: StreamStatus, reason: string | null, now: number): Promise<boolean> {
    return (await run(this.#db, 'UPDATE ssf_streams SET status = ?, reason = ?, updated_at = ? WHERE id = ?', [status, reason, now, id])) === 1;
  }

  async deleteStream(id: string): Promise<boolean> {
    return (await run(this.#db, 'DELETE FROM ssf_streams WHERE id = ?', [id])) === 1;
  }

  /** Adds (`included`) or removes a subject; false when the stream has `max` others already. */
  async setSubject(streamId: string, key: string, included: boolean, max: number): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      if (db.dialect === 'postgres') await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ssf-subjects:${streamId}`]);
      const [n] = await rows<{ n: unknown }>(db, 'SELECT COUNT(*) AS n FROM ssf_subjects WHERE stream_id = ? AND subject_key <> ?', [streamId, key]);
      if (num(n!.n) >= max) return false;
      await run(db, 'DELETE FROM ssf_subjects WHERE stream_id = ? AND subject_key = ?', [streamId, key]);
      await run(db, 'INSERT INTO ssf_subjects (stream_id, subject_key, included) VALUES (?, ?, ?)', [streamId, key, included ? 1 : 0]);
      return true;
    });
  }

  /** The add (true) / remove (false) choices of `streamIds` for any of `keys`, by stream. */
  async subjectChoices(streamIds: readonly string[], keys: readonly string[]): Promise<Map<string, boolean[]>> {
    const choices = new Map<string, boolean[]>();
    if (streamIds.length === 0 || keys.length === 0) return choices;
    const found = await rows<{ stream_id: string; included: unknown }>(
      this.#db,
      `SELECT stream_id, included FROM ssf_subjects WHERE stream_id IN (${streamIds.map(() => '?').join(', ')}) AND subject_key IN (${keys.map(() => '?').join(', ')})`,
      [...streamIds, ...keys],
    );
    for (const r of found) choices.set(r.stream_id, [...(choices.get(r.stream_id) ?? []), num(r.included) === 1]);
    return choices;
  }

  /** Stores SETs; answers the number of old ones dropped per stream to keep `maxBacklog`. */
  async append(sets: readonly NewSet[], now: number, lifetimeMs: number, maxBacklog: number): Promise<Map<string, number>> {
    if (sets.length === 0) return new Map();
    return this.#db.transaction(async (db) => {
      // A stream deleted since its SETs were made takes none (its rows would break the foreign key,
      // failing the whole batch, the other streams' SETs and the revocation that made them). The
      // streams kept are locked against a delete until the batch is in.
      const ids = [...new Set(sets.map((s) => s.streamId))];
      const lock = db.dialect === 'postgres' ? ' FOR SHARE' : '';
      const live = new Set((await rows<{ id: string }>(db, `SELECT id FROM ssf_streams WHERE id IN (${ids.map(() => '?').join(', ')})${lock}`, ids)).map((r) => r.id));
      sets = sets.filter((s) => live.has(s.streamId));
      for (const s of sets) {
        await run(db, 'INSERT INTO ssf_outbox (jti, stream_id, event_type, claims, created_at, expires_at, next_at, lease_until, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)', [
          s.jti, s.streamId, s.eventType, s.claims, now, now + lifetimeMs, now,
        ]);
      }
      const dropped = new Map<string, number>();
      for (const streamId of new Set(sets.map((s) => s.streamId))) {
        const n = await run(
          db,
          'DELETE FROM ssf_outbox WHERE stream_id = ? AND seq NOT IN (SELECT seq FROM ssf_outbox WHERE stream_id = ? ORDER BY seq DESC LIMIT ?)',
          [streamId, streamId, maxBacklog],
        );
        if (n > 0) dropped.set(streamId, n);
      }
      return dropped;
    });
  }

  /**
   * Leases up to `limit` due entries of enabled push streams but `skip`'s until `leaseUntil`, oldest
   * first. An entry behind an earlier one of its stream that waits for a retry or is being pushed
   * (by any instance) is not due: a stream's SETs reach its receiver in order, and a failing
   * receiver is not sent each new SET before its retry is due.
   */
  async claimDue(now: number, leaseUntil: number, limit: number, skip: readonly string[] = []): Promise<OutboxEntry[]> {
    const skipping = skip.length === 0 ? '' : `AND o.stream_id NOT IN (${skip.map(() => '?').join(', ')})`;
    const lock = this.#db.dialect === 'postgres' ? 'FOR UPDATE OF o SKIP LOCKED' : '';
    const claimed = await rows<OutboxRow>(
      this.#db,
      `UPDATE ssf_outbox SET lease_until = ?, attempts = attempts + 1
       WHERE seq IN (
         SELECT o.seq FROM ssf_outbox o JOIN ssf_streams s ON s.id = o.stream_id
         WHERE s.status = 'enabled' AND s.method = ? AND o.next_at <= ? AND o.lease_until <= ? AND o.expires_at > ? ${skipping}
           AND NOT EXISTS (
             SELECT 1 FROM ssf_outbox p
             WHERE p.stream_id = o.stream_id AND p.seq < o.seq AND p.expires_at > ? AND (p.next_at > ? OR p.lease_until > ?)
           )
         ORDER BY o.seq LIMIT ? ${lock}
       )
       RETURNING seq, jti, stream_id, claims, attempts, created_at`,
      [leaseUntil, pushMethod, now, now, now, ...skip, now, now, now, limit],
    );
    return claimed.map(toEntry).sort((a, b) => a.seq - b.seq);
  }

  /**
   * Extends the lease of claimed entries still held under lease `heldUntil` to `leaseUntil`;
   * answers how many were (fewer than asked: the lease ran out and another instance may have them).
   */
  async renew(jtis: readonly string[], heldUntil: number, leaseUntil: number): Promise<number> {
    if (jtis.length === 0) return 0;
    return run(this.#db, `UPDATE ssf_outbox SET lease_until = ? WHERE lease_until = ? AND jti IN (${jtis.map(() => '?').join(', ')})`, [leaseUntil, heldUntil, ...jtis]);
  }

  /** Gives a claimed entry back after a failed push: due again at `nextAt`. */
  async release(jti: string, nextAt: number): Promise<void> {
    await run(this.#db, 'UPDATE ssf_outbox SET lease_until = 0, next_at = ? WHERE jti = ?', [nextAt, jti]);
  }

  /** Deletes delivered SETs of a stream; answers how many there were. */
  async remove(streamId: string, jtis: readonly string[]): Promise<number> {
    if (jtis.length === 0) return 0;
    return run(this.#db, `DELETE FROM ssf_outbox WHERE stream_id = ? AND jti IN (${jtis.map(() => '?').join(', ')})`, [streamId, ...jtis]);
  }

  /** Up to `limit` pending SETs of a stream, oldest first (a poll). */
  async pending(streamId: string, now: number, limit: number): Promise<OutboxEntry[]> {
    const found = await rows<OutboxRow>(
      this.#db,
      'SELECT seq, jti, stream_id, claims, attempts, created_at FROM ssf_outbox WHERE stream_id = ? AND expires_at > ? ORDER BY seq LIMIT ?',
      [streamId, now, limit],
    );
    return found.map(toEntry);
  }

  /** How many SETs wait, in all streams. */
  async backlog(): Promise<number> {
    const [n] = await rows<{ n: unknown }>(this.#db, 'SELECT COUNT(*) AS n FROM ssf_outbox');
    return num(n!.n);
  }

  /** Deletes SETs past their lifetime; answers how many per stream. */
  async purge(now: number): Promise<Map<string, number>> {
    const gone = await rows<{ stream_id: string }>(this.#db, 'DELETE FROM ssf_outbox WHERE expires_at <= ? RETURNING stream_id', [now]);
    const counts = new Map<string, number>();
    for (const r of gone) counts.set(r.stream_id, (counts.get(r.stream_id) ?? 0) + 1);
    return counts;
  }
}
