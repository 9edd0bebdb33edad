import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { ConfigError } from '../../core/errors.ts';
import type { Revocation } from '../../core/revocation.ts';
import type { RevocationFeed } from '../../core/revocation-feed.ts';
import type { RedisClient, RedisConnection } from './redis-client.ts';

/** Options of `RedisRevocationFeed`. */
export interface RedisRevocationFeedOptions {
  /** How often this feed sends a heartbeat on every channel, in ms. Default 250. */
  readonly heartbeatMs?: number;
  /**
   * How long one heartbeat round trip keeps this process's lease, in ms. Default 1500. An
   * instance whose own heartbeat has not come back on every channel within this span checks the
   * store per request; a revocation waits at most this long for an instance that does not
   * acknowledge it. Must be at least twice `heartbeatMs`.
   */
  readonly leaseMs?: number;
  /** Client name of the subscriber connection (CLIENT LIST). Default `tokenstile:feed`. */
  readonly connectionName?: string;
  /** A monotonic clock in ms, for leases and deadlines. Default `performance.now`. */
  readonly now?: () => number;
}

type Handlers = Parameters<RevocationFeed['start']>[0];

/** Channels of a Cluster: enough for the hash tags to spread them over the shards. */
const shardCount = 16;

/** A published message waiting for its own echo and for the acknowledgements of the others. */
interface Pending {
  /** Channels whose copy of the message has not come back to this process yet. */
  readonly channels: Set<string>;
  /** Instances that acknowledged it. */
  readonly acks: Set<string>;
  /** Re-evaluates the wait (an echo or an acknowledgement arrived, or the subscription was lost). */
  wake: (() => void) | undefined;
}

/**
 * The revocation feed over Redis pub/sub, with leases and acknowledgements so that `publish`
 * resolves only when no live instance can still accept what it revoked (`docs/scaling.md`, "The
 * logout guarantee", has the protocol and its proof).
 *
 * Messages are compact JSON on the revocation channel(s):
 * - `{"r":[[kind, id, userId, revokedAt, expiresAt], …],"m":sender,"q":seq}`: revocations;
 * - `{"hb":sender,"n":seq}`: a heartbeat, sent by every feed on every channel each `heartbeatMs`,
 *   with `"v":ms` while the sender grants acknowledging verifiers leases of that length;
 * - `{"bye":sender}`: a feed closing, no longer to be waited for;
 * and on each instance's own acknowledgement channel `<prefix>revocations:ack:<id>`:
 * - `{"a":[seq, …],"by":sender}`: the sender has added those revocations to its list.
 * Anything else is ignored; messages without `m`/`n` (an older release) are still applied.
 *
 * On one server (or Sentinel) there is one revocation channel, `<prefix>revocations`, with
 * PUBLISH and SUBSCRIBE. On a Cluster, plain pub/sub would copy every message to every node, so
 * it uses sharded pub/sub (SPUBLISH/SSUBSCRIBE) over `<prefix>revocations:{0}` … `{15}`: a
 * revocation goes to channel crc32(session id) % 16, and every feed subscribes to all 16.
 *
 * **Lease.** Redis delivers the messages of one channel to a subscriber in the order it took
 * them. So when this feed's own heartbeat, sent at time s, comes back on a channel, every message
 * Redis took on that channel before it has been delivered. The lease lasts `leaseMs` from the
 * send time of the latest own heartbeat that came back, taking the oldest over all channels; it
 * ends at once when the subscriber connection closes or errs.
 *
 * **Publish.** After the PUBLISH, the feed waits for its own copy to come back on every channel
 * (the heartbeats Redis took before the revocations have then reached this process too), then
 * for an acknowledgement from every instance heard within a lease before that, each at most
 * until its last heartbeat plus a lease (plus its `v`). Instances it cannot have heard (it has listened for less
 * than a lease) are waited out for a lease from when it started listening.
 */
export class RedisRevocationFeed implements RevocationFeed {
  readonly kind = 'redis';
  readonly #redis: RedisConnection;
  readonly #channels: string[];
  readonly #id = randomBytes(9).toString('base64url');
  readonly #ackChannel: string;
  readonly #heartbeatMs: number;
  readonly #leaseMs: number;
  /** Added to the deadlines of others' leases: covers clock-rate differences between hosts (2%). */
  readonly #margin: number;
  readonly #connectionName: string;
  readonly #now: () => number;
  /** Per revocation channel: send time of the latest own heartbeat that came back on it. */
  readonly #confirmed = new Map<string, number>();
  /** Own heartbeats in flight: sequence number → send time. */
  readonly #sent = new Map<number, number>();
  /** Other instances: id → when their last heartbeat reached this process. */
  readonly #members = new Map<string, number>();
  /** Other instances that hold leases of acknowledging verifiers: id → the verifier lease (`v`), ms. */
  readonly #verifierLeases = new Map<string, number>();
  /** The lease this process grants acknowledging verifiers (0: none), announced in its heartbeats. */
  #verifierLeaseMs = 0;
  readonly #pending = new Map<number, Pending>();
  /** Acknowledgements to send, per sender, flushed once per event-loop turn. */
  readonly #acks = new Map<string, number[]>();
  #ackFlush: NodeJS.Immediate | undefined;
  #seq = 0;
  #leaseUntil = 0;
  /** Since when the subscription has been unbroken (Infinity: lost, not yet heard from again). */
  #listeningSince = Number.POSITIVE_INFINITY;
  #handlers: Handlers | undefined;
  #subscriber: RedisClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #healthy = false;
  #closed = false;

  constructor(redis: RedisConnection, options: RedisRevocationFeedOptions = {}) {
    this.#redis = redis;
    this.#heartbeatMs = options.heartbeatMs ?? 250;
    this.#leaseMs = options.leaseMs ?? 1500;
    if (!(this.#heartbeatMs > 0) || !(this.#leaseMs >= 2 * this.#heartbeatMs)) {
      throw new ConfigError(`revocation feed: heartbeatMs must be > 0 and leaseMs at least twice it; got ${this.#heartbeatMs} and ${this.#leaseMs}`);
    }
    this.#margin = Math.ceil(this.#leaseMs / 50);
    this.#connectionName = options.connectionName ?? 'tokenstile:feed';
    this.#now = options.now ?? (() => performance.now());
    const base = `${redis.keyPrefix}revocations`;
    this.#channels = redis.isCluster ? Array.from({ length: shardCount }, (_, i) => `${base}:{${i}}`) : [base];
    this.#ackChannel = this.#ackChannelOf(this.#id);
    for (const channel of this.#channels) this.#confirmed.set(channel, Number.NEGATIVE_INFINITY);
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  get leaseUntil(): number {
    return this.#leaseUntil;
  }

  async publish(revocations: readonly Revocation[]): Promise<void> {
    if (this.#closed) throw new Error('the revocation feed is closed');
    if (this.#handlers === undefined) throw new Error('the revocation feed is not started');
    const q = ++this.#seq;
    const byChannel = new Map<string, unknown[]>();
    for (const r of revocations) {
      const channel = this.#channels[crc32(r.id) % this.#channels.length]!;
      const list = byChannel.get(channel) ?? [];
      list.push([r.kind, r.id, r.userId, r.revokedAt, r.expiresAt]);
      byChannel.set(channel, list);
    }
    const pending: Pending = { channels: new Set(byChannel.keys()), acks: new Set(), wake: undefined };
    this.#pending.set(q, pending);
    try {
      await Promise.all([...byChannel].map(([channel, list]) => this.#send(channel, JSON.stringify({ r: list, m: this.#id, q }))));
      const echoBy = this.#now() + this.#leaseMs;
      await this.#wait(pending, () => (pending.channels.size === 0 || this.#closed || this.#listeningSince === Number.POSITIVE_INFINITY || this.#now() >= echoBy ? null : echoBy));
      if (pending.channels.size > 0) throw new Error('the revocation feed did not bring this instance its own message back');
      const echoed = this.#now();
      // Whoever this process heard within a lease may hold a lease from before the revocations.
      const deadlines = new Map<string, number>();
      for (const [member, heard] of this.#members) {
        // An instance with acknowledging verifiers holds its ack for at most one verifier lease.
        const deadline = heard + this.#leaseMs + (this.#verifierLeases.get(member) ?? 0) + this.#margin;
        if (deadline > echoed) deadlines.set(member, deadline);
      }
      // Instances whose heartbeats came before this process listened are not in the map.
      const unknownUntil = this.#listeningSince + this.#leaseMs + this.#margin;
      await this.#wait(pending, () => {
        const now = this.#now();
        let next = unknownUntil > now ? unknownUntil : null;
        for (const [member, deadline] of deadlines) {
          if (deadline > now && !pending.acks.has(member)) next = next === null ? deadline : Math.min(next, deadline);
        }
        return next;
      });
    } finally {
      this.#pending.delete(q);
    }
  }

  async start(handlers: Handlers): Promise<void> {
    if (this.#closed || this.#handlers) throw new Error('the revocation feed is already started or closed');
    this.#handlers = handlers;
    const sub = this.#redis.subscriber(this.#connectionName);
    this.#subscriber = sub;
    const lost = () => this.#lost();
    // A sharded Cluster reports a lost shard subscriber as `-node`/`-subscriber`, not `close`.
    for (const event of ['close', 'end', 'error', '-node', '-subscriber', 'nodeError']) sub.on(event, lost);
    sub.on(this.#redis.isCluster ? 'smessage' : 'message', (channel: string, message: string) => this.#receive(channel, message));
    const channels = [...this.#channels, this.#ackChannel];
    try {
      if (this.#redis.isCluster) {
        // One SSUBSCRIBE per channel: each has its own slot, usually on its own shard.
        await Promise.all(channels.map((channel) => sub.ssubscribe(channel)));
      } else {
        await sub.subscribe(...channels);
      }
    } catch (err) {
      this.#subscriber = undefined;
      this.#handlers = undefined;
      sub.disconnect();
      throw err;
    }
    this.#listeningSince = this.#now();
    this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs);
    this.#timer.unref();
    this.#tick();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const started = this.#handlers !== undefined;
    this.#closed = true;
    this.#leaseUntil = 0;
    this.#healthy = false;
    clearInterval(this.#timer);
    clearImmediate(this.#ackFlush);
    for (const pending of this.#pending.values()) pending.wake?.();
    if (started) {
      // Others stop waiting for this instance at once rather than for its lease (best effort).
      const bye = JSON.stringify({ bye: this.#id });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(this.#channels.map((channel) => this.#send(channel, bye))).catch(() => {}),
        new Promise((resolve) => (timer = setTimeout(resolve, 200))),
      ]);
      clearTimeout(timer);
    }
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  /**
   * From now on this process's heartbeats carry `"v": leaseMs`, and only such heartbeats renew
   * its lease (the lease it held is dropped), so that while it trusts its list every other
   * instance has heard the announcement: a publisher then waits up to `leaseMs` longer for this
   * instance's acknowledgement, which it holds until its acknowledging verifiers have
   * acknowledged (or their leases have run out). See `docs/verify.md`.
   */
  announceVerifierLease(leaseMs: number): void {
    if (!(leaseMs > 0) || leaseMs === this.#verifierLeaseMs) return;
    this.#verifierLeaseMs = leaseMs;
    for (const channel of this.#channels) this.#confirmed.set(channel, Number.NEGATIVE_INFINITY);
    this.#leaseUntil = 0;
    this.#update(this.#now());
  }

  #ackChannelOf(id: string): string {
    const base = `${this.#redis.keyPrefix}revocations:ack:`;
    return this.#redis.isCluster ? `${base}{${id}}` : `${base}${id}`;
  }

  #send(channel: string, message: string): Promise<unknown> {
    const client = this.#redis.client;
    return this.#redis.isCluster ? client.spublish(channel, message) : client.publish(channel, message);
  }

  /** Waits until `next()` answers null; it is asked again at the time it names and at every wake. */
  async #wait(pending: Pending, next: () => number | null): Promise<void> {
    for (let at = next(); at !== null; at = next()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          pending.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, at - this.#now()));
        pending.wake = done;
      });
    }
  }

  #tick(): void {
    const now = this.#now();
    this.#update(now);
    const n = ++this.#seq;
    this.#sent.set(n, now);
    // Both maps are in insertion order: drop from the front what can no longer matter.
    for (const [k, sentAt] of this.#sent) {
      if (sentAt > now - 2 * this.#leaseMs) break;
      this.#sent.delete(k);
    }
    for (const [member, heard] of this.#members) {
      if (heard + this.#leaseMs + (this.#verifierLeases.get(member) ?? 0) + this.#margin >= now) continue;
      this.#members.delete(member);
      this.#verifierLeases.delete(member);
    }
    const heartbeat = JSON.stringify(this.#verifierLeaseMs > 0 ? { hb: this.#id, n, v: this.#verifierLeaseMs } : { hb: this.#id, n });
    for (const channel of this.#channels) {
      // A failed heartbeat needs no handling: the lease it does not renew runs out.
      this.#send(channel, heartbeat).catch(() => {});
    }
  }

  #receive(channel: string, message: string): void {
    if (this.#closed) return;
    const isAck = channel === this.#ackChannel;
    if (!isAck && !this.#confirmed.has(channel)) return;
    let body: unknown;
    try {
      body = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof body !== 'object' || body === null) return;
    const now = this.#now();
    if (this.#listeningSince === Number.POSITIVE_INFINITY) this.#listeningSince = now;
    const { hb, n, v, r, m, q, bye, a, by } = body as Record<string, unknown>;
    if (isAck) {
      if (typeof by !== 'string' || !Array.isArray(a)) return;
      for (const seq of a) {
        const pending = typeof seq === 'number' ? this.#pending.get(seq) : undefined;
        if (pending === undefined) continue;
        pending.acks.add(by);
        pending.wake?.();
      }
      return;
    }
    if (typeof hb === 'string') {
      if (hb !== this.#id) {
        // Re-inserted at the back, so the map stays in order of last contact for #tick's pruning.
        this.#members.delete(hb);
        this.#members.set(hb, now);
        // Kept as long as the member is: its verifiers may hold leases granted under the last `v`.
        if (typeof v === 'number' && v > 0 && Number.isFinite(v)) this.#verifierLeases.set(hb, Math.max(v, this.#verifierLeases.get(hb) ?? 0));
        return;
      }
      // Once verifier leases are announced, only heartbeats that carried the announcement count.
      if (this.#verifierLeaseMs > 0 && v !== this.#verifierLeaseMs) return;
      const sentAt = typeof n === 'number' ? this.#sent.get(n) : undefined;
      if (sentAt !== undefined && sentAt > this.#confirmed.get(channel)!) {
        this.#confirmed.set(channel, sentAt);
        this.#leaseUntil = Math.min(...this.#confirmed.values()) + this.#leaseMs;
        this.#update(now);
      }
      return;
    }
    if (typeof bye === 'string') {
      this.#members.delete(bye);
      this.#verifierLeases.delete(bye);
      return;
    }
    if (!Array.isArray(r)) return;
    const own = m === this.#id;
    if (own && typeof q === 'number') {
      const pending = this.#pending.get(q);
      if (pending?.channels.delete(channel)) pending.wake?.();
    }
    const revocations = r.map(decode).filter((x) => x !== null);
    let held: void | Promise<void> = undefined;
    if (revocations.length > 0) {
      try {
        held = this.#handlers?.onRevocations(revocations);
      } catch {
        // The handler's failure is its own; it must not break delivery of the next message.
      }
    }
    // Acknowledged once the handler has returned (the revocations are in this process's list) and
    // what it returned has settled (this process's acknowledging verifiers have them too).
    if (own || typeof m !== 'string' || typeof q !== 'number') return;
    if (held instanceof Promise) {
      held.then(
        () => this.#acknowledge(m, q),
        () => this.#acknowledge(m, q),
      );
    } else {
      this.#acknowledge(m, q);
    }
  }

  #acknowledge(sender: string, q: number): void {
    const list = this.#acks.get(sender);
    if (list) list.push(q);
    else this.#acks.set(sender, [q]);
    this.#ackFlush ??= setImmediate(() => {
      this.#ackFlush = undefined;
      for (const [to, seqs] of this.#acks) this.#send(this.#ackChannelOf(to), JSON.stringify({ a: seqs, by: this.#id })).catch(() => {});
      this.#acks.clear();
    });
  }

  #lost(): void {
    if (this.#closed) return;
    for (const channel of this.#channels) this.#confirmed.set(channel, Number.NEGATIVE_INFINITY);
    this.#leaseUntil = 0;
    this.#listeningSince = Number.POSITIVE_INFINITY;
    for (const pending of this.#pending.values()) pending.wake?.();
    this.#update(this.#now());
  }

  #update(now: number): void {
    const healthy = !this.#closed && this.#handlers !== undefined && this.#leaseUntil > now;
    if (healthy === this.#healthy) return;
    this.#healthy = healthy;
    try {
      this.#handlers?.onHealth(healthy);
    } catch {
      // As for onRevocations.
    }
  }
}

/** A revocation from its wire tuple, or null for anything malformed or of an unknown kind. */
function decode(entry: unknown): Revocation | null {
  if (!Array.isArray(entry)) return null;
  const [kind, id, userId, revokedAt, expiresAt] = entry as unknown[];
  if (kind !== 'session' || typeof id !== 'string' || typeof userId !== 'string') return null;
  if (typeof revokedAt !== 'number' || typeof expiresAt !== 'number' || !Number.isFinite(revokedAt) || !Number.isFinite(expiresAt)) return null;
  return { kind, id, userId, revokedAt, expiresAt };
}
