import { StoreUnavailableError } from '../../core/errors.ts';
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
  /** Indexes of the channels the message went to (one per channel its revocations hash to). */
  readonly sent: ReadonlySet<number>;
  /** Channels whose copy of the message has not come back to this process yet. */
  readonly channels: Set<string>;
  /** Per instance, the channels whose copy it acknowledged. */
  readonly acks: Map<string, Set<number>>;
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
 * - `{"hb":sender,"n":seq,"l":leaseMs}`: a heartbeat, sent by every feed on every channel each
 *   `heartbeatMs`, with the sender's lease (so that others wait for it as long as it trusts), and
 *   `"v":ms` while the sender grants acknowledging verifiers leases of that length;
 * - `{"bye":sender}`: a feed closing, no longer to be waited for;
 * and on each instance's own acknowledgement channel `<prefix>revocations:ack:<id>`:
 * - `{"a":[[seq, channel], …],"by":sender}`: the sender has added the revocations of message
 *   `seq` that came on revocation channel number `channel` to its list. On a Cluster one message
 *   is split over several channels, each delivered (and acknowledged) on its own.
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
 * for an acknowledgement of every channel's copy from every instance heard within its lease
 * before that, each at most until its last heartbeat plus its lease (plus its `v`). Instances it
 * cannot have heard (it has listened on some channel for less than a lease) are waited out for a
 * lease from when it started listening there.
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
  /** Other instances: id → when their last heartbeat reached this process, and their lease. */
  readonly #members = new Map<string, { heard: number; leaseMs: number }>();
  /** Other instances that hold leases of acknowledging verifiers: id → the verifier lease (`v`), ms. */
  readonly #verifierLeases = new Map<string, number>();
  /** The lease this process grants acknowledging verifiers (0: none), announced in its heartbeats. */
  #verifierLeaseMs = 0;
  readonly #pending = new Map<number, Pending>();
  /** Acknowledgements to send, per sender, flushed once per event-loop turn. */
  readonly #acks = new Map<string, Array<[number, number]>>();
  #ackFlush: NodeJS.Immediate | undefined;
  #seq = 0;
  #leaseUntil = 0;
  /** Per revocation channel: since when its subscription has been unbroken (Infinity: lost, not yet heard on again). */
  readonly #listeningSince = new Map<string, number>();
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
    for (const channel of this.#channels) {
      this.#confirmed.set(channel, Number.NEGATIVE_INFINITY);
      this.#listeningSince.set(channel, Number.POSITIVE_INFINITY);
    }
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  get leaseUntil(): number {
    return this.#leaseUntil;
  }

  async publish(revocations: readonly Revocation[]): Promise<void> {
    if (this.#closed) throw new StoreUnavailableError('feed.publish', { cause: new Error('the revocation feed is closed') });
    if (this.#handlers === undefined) throw new Error('the revocation feed is not started');
    const q = ++this.#seq;
    const byChannel = new Map<string, unknown[]>();
    for (const r of revocations) {
      const channel = this.#channels[crc32(r.id) % this.#channels.length]!;
      const list = byChannel.get(channel) ?? [];
      list.push([r.kind, r.id, r.userId, r.revokedAt, r.expiresAt]);
      byChannel.set(channel, list);
    }
    const pending: Pending = {
      sent: new Set([...byChannel.keys()].map((channel) => this.#channels.indexOf(channel))),
      channels: new Set(byChannel.keys()),
      acks: new Map(),
      wake: undefined,
    };
    this.#pending.set(q, pending);
    try {
      await Promise.all([...byChannel].map(([channel, list]) => this.#send(channel, JSON.stringify({ r: list, m: this.#id, q }))));
      const echoBy = this.#now() + this.#leaseMs;
      const lost = () => [...byChannel.keys()].some((channel) => this.#listeningSince.get(channel) === Number.POSITIVE_INFINITY);
      await this.#wait(pending, () => (pending.channels.size === 0 || this.#closed || lost() || this.#now() >= echoBy ? null : echoBy));
      if (pending.channels.size > 0) throw new Error('the revocation feed did not bring this instance its own message back');
      const echoed = this.#now();
      // Whoever this process heard within its lease may hold a lease from before the revocations.
      const deadlines = new Map<string, number>();
      for (const [member, { heard, leaseMs }] of this.#members) {
        // An instance with acknowledging verifiers holds its ack for at most one verifier lease.
        const deadline = heard + leaseMs + (this.#verifierLeases.get(member) ?? 0) + Math.ceil(leaseMs / 50);
        if (deadline > echoed) deadlines.set(member, deadline);
      }
      // Instances whose heartbeats came before this process listened (on any of the message's
      // channels) are not in the map: wait out a lease from then. Same-lease configuration assumed.
      const listening = Math.max(...[...byChannel.keys()].map((channel) => this.#listeningSince.get(channel)!));
      const unknownUntil = listening + this.#leaseMs + this.#margin;
      const covered = (member: string) => {
        const acked = pending.acks.get(member);
        return acked !== undefined && [...pending.sent].every((c) => acked.has(c));
      };
      await this.#wait(pending, () => {
        const now = this.#now();
        if (this.#closed) return null;
        let next = unknownUntil > now ? unknownUntil : null;
        for (const [member, deadline] of deadlines) {
          if (deadline > now && !covered(member)) next = next === null ? deadline : Math.min(next, deadline);
        }
        return next;
      });
      if (this.#closed) throw new Error('the revocation feed closed before the revocations were confirmed');
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
    const listening = this.#now();
    for (const channel of this.#channels) this.#listeningSince.set(channel, listening);
    this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs);
    this.#timer.unref();
    this.#tick();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const started = this.#handlers !== undefined;
    this.#closed = true;
    this.#leaseUntil = 0;
    if (this.#healthy) {
      this.#healthy = false;
      try {
        this.#handlers?.onHealth(false);
      } catch {
        // As for onRevocations.
      }
    }
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
        timer.unref(); // a caller is waiting on it; a process shutting down need not
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
    for (const [member, { heard, leaseMs }] of this.#members) {
      if (heard + leaseMs + (this.#verifierLeases.get(member) ?? 0) + Math.ceil(leaseMs / 50) >= now) continue;
      this.#members.delete(member);
      this.#verifierLeases.delete(member);
    }
    const heartbeat = JSON.stringify(this.#verifierLeaseMs > 0 ? { hb: this.#id, n, l: this.#leaseMs, v: this.#verifierLeaseMs } : { hb: this.#id, n, l: this.#leaseMs });
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
    const { hb, n, l, v, r, m, q, bye, a, by } = body as Record<string, unknown>;
    if (isAck) {
      if (typeof by !== 'string' || !Array.isArray(a)) return;
      for (const entry of a) {
        // [seq, channel]; a bare seq (one channel) from a single-server feed is channel 0.
        const [seq, channel] = Array.isArray(entry) ? entry : [entry, 0];
        const pending = typeof seq === 'number' ? this.#pending.get(seq) : undefined;
        if (pending === undefined || typeof channel !== 'number') continue;
        const acked = pending.acks.get(by) ?? new Set<number>();
        acked.add(channel);
        pending.acks.set(by, acked);
        pending.wake?.();
      }
      return;
    }
    if (this.#listeningSince.get(channel) === Number.POSITIVE_INFINITY) this.#listeningSince.set(channel, now);
    if (typeof hb === 'string') {
      if (hb !== this.#id) {
        // Re-inserted at the back, so the map stays in order of last contact for #tick's pruning.
        // An older release sends no lease: it had none, so ours is as good a bound as any.
        const leaseMs = typeof l === 'number' && l > 0 && l <= 60_000 ? l : this.#leaseMs;
        this.#members.delete(hb);
        this.#members.set(hb, { heard: now, leaseMs });
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
        // The handler's failure is its own; it must not break delivery of the next message. Not
        // acknowledged: the sender then waits out this instance's lease instead.
        return;
      }
    }
    // Acknowledged once the handler has returned (the revocations are in this process's list) and
    // what it returned has settled (this process's acknowledging verifiers have them too).
    if (own || typeof m !== 'string' || typeof q !== 'number') return;
    const ack: [number, number] = [q, this.#channels.indexOf(channel)];
    if (held instanceof Promise) {
      held.then(
        () => this.#acknowledge(m, ack),
        () => this.#acknowledge(m, ack),
      );
    } else {
      this.#acknowledge(m, ack);
    }
  }

  #acknowledge(sender: string, ack: [number, number]): void {
    const list = this.#acks.get(sender);
    if (list) list.push(ack);
    else this.#acks.set(sender, [ack]);
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
    for (const channel of this.#channels) this.#listeningSince.set(channel, Number.POSITIVE_INFINITY);
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
