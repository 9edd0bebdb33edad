import { randomBytes } from 'node:crypto';
import { ConfigError, StoreUnavailableError } from '../../core/errors.ts';
import type { Revocation } from '../../core/revocation.ts';
import type { RevocationFeed } from '../../core/revocation-feed.ts';
import type { RedisClient, RedisConnection } from './redis-client.ts';
import { FeedMembers } from './redis-feed-members.ts';
import { PendingMessage } from './redis-feed-pending.ts';
import {
  ackChannel,
  ackMessage,
  byeMessage,
  channelOf,
  encodeRevocation,
  heartbeatMessage,
  parseMessage,
  readAckMessage,
  readChannelMessage,
  revocationChannels,
  revocationsMessage,
} from './redis-feed-protocol.ts';

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

/**
 * The revocation feed over Redis pub/sub, with leases and acknowledgements so that `publish`
 * resolves only when no live instance can still accept what it revoked (`docs/scaling.md`, "The
 * logout guarantee", has the protocol and its proof). Every feed sends heartbeats on every
 * revocation channel, publishes revocations there and acknowledges others' on their own channels
 * (`redis-feed-protocol.ts` has the channels and messages: one channel on a server or Sentinel,
 * sixteen sharded ones on a Cluster).
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
  /** Other instances heard, and until when each may hold a lease. */
  readonly #members: FeedMembers;
  /** The lease this process grants acknowledging verifiers (0: none), announced in its heartbeats. */
  #verifierLeaseMs = 0;
  readonly #pending = new Map<number, PendingMessage>();
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
    this.#members = new FeedMembers(this.#leaseMs);
    this.#channels = revocationChannels(redis.keyPrefix, redis.isCluster);
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
      const channel = channelOf(r, this.#channels);
      const list = byChannel.get(channel) ?? [];
      list.push(encodeRevocation(r));
      byChannel.set(channel, list);
    }
    const channels = [...byChannel.keys()];
    const pending = new PendingMessage(channels, channels.map((channel) => this.#channels.indexOf(channel)), () => this.#now());
    this.#pending.set(q, pending);
    try {
      await Promise.all([...byChannel].map(([channel, list]) => this.#send(channel, revocationsMessage(list, this.#id, q))));
      const echoBy = this.#now() + this.#leaseMs;
      const lost = () => channels.some((channel) => this.#listeningSince.get(channel) === Number.POSITIVE_INFINITY);
      await pending.wait(() => (pending.echoed || this.#closed || lost() || this.#now() >= echoBy ? null : echoBy));
      if (!pending.echoed) throw new Error('the revocation feed did not bring this instance its own message back');
      const echoed = this.#now();
      // Whoever this process heard within its lease may hold a lease from before the revocations.
      const deadlines = this.#members.deadlinesAfter(echoed);
      // Instances whose heartbeats came before this process listened (on any of the message's
      // channels) are not in the map: wait out a lease from then. Same-lease configuration assumed.
      const listening = Math.max(...channels.map((channel) => this.#listeningSince.get(channel)!));
      const unknownUntil = listening + this.#leaseMs + this.#margin;
      await pending.wait(() => {
        const now = this.#now();
        if (this.#closed) return null;
        let next = unknownUntil > now ? unknownUntil : null;
        for (const [member, deadline] of deadlines) {
          if (deadline > now && !pending.acknowledgedBy(member)) next = next === null ? deadline : Math.min(next, deadline);
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
    for (const pending of this.#pending.values()) pending.wake();
    if (started) {
      // Others stop waiting for this instance at once rather than for its lease (best effort).
      const bye = byeMessage(this.#id);
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
    return ackChannel(this.#redis.keyPrefix, this.#redis.isCluster, id);
  }

  #send(channel: string, message: string): Promise<unknown> {
    const client = this.#redis.client;
    return this.#redis.isCluster ? client.spublish(channel, message) : client.publish(channel, message);
  }

  #tick(): void {
    const now = this.#now();
    this.#update(now);
    const n = ++this.#seq;
    this.#sent.set(n, now);
    // In insertion order: drop from the front what can no longer matter.
    for (const [k, sentAt] of this.#sent) {
      if (sentAt > now - 2 * this.#leaseMs) break;
      this.#sent.delete(k);
    }
    this.#members.prune(now);
    const heartbeat = heartbeatMessage(this.#id, n, this.#leaseMs, this.#verifierLeaseMs);
    for (const channel of this.#channels) {
      // A failed heartbeat needs no handling: the lease it does not renew runs out.
      this.#send(channel, heartbeat).catch(() => {});
    }
  }

  #receive(channel: string, message: string): void {
    if (this.#closed) return;
    const isAck = channel === this.#ackChannel;
    if (!isAck && !this.#confirmed.has(channel)) return;
    const body = parseMessage(message);
    if (body === null) return;
    const now = this.#now();
    if (isAck) {
      const ack = readAckMessage(body);
      for (const [seq, channel] of ack?.acks ?? []) this.#pending.get(seq)?.acknowledge(ack!.sender, channel);
      return;
    }
    if (this.#listeningSince.get(channel) === Number.POSITIVE_INFINITY) this.#listeningSince.set(channel, now);
    const read = readChannelMessage(body);
    if (read.type === 'heartbeat') {
      if (read.sender !== this.#id) {
        this.#members.heard(read.sender, now, read.leaseMs, read.verifierLeaseMs);
        return;
      }
      // Once verifier leases are announced, only heartbeats that carried the announcement count.
      if (this.#verifierLeaseMs > 0 && read.verifierLeaseMs !== this.#verifierLeaseMs) return;
      const sentAt = typeof read.seq === 'number' ? this.#sent.get(read.seq) : undefined;
      if (sentAt !== undefined && sentAt > this.#confirmed.get(channel)!) {
        this.#confirmed.set(channel, sentAt);
        this.#leaseUntil = Math.min(...this.#confirmed.values()) + this.#leaseMs;
        this.#update(now);
      }
      return;
    }
    if (read.type === 'bye') {
      this.#members.left(read.sender);
      return;
    }
    if (read.type !== 'revocations') return;
    const { revocations, sender: m, seq: q } = read;
    const own = m === this.#id;
    if (own && typeof q === 'number') this.#pending.get(q)?.echo(channel);
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
      for (const [to, seqs] of this.#acks) this.#send(this.#ackChannelOf(to), ackMessage(seqs, this.#id)).catch(() => {});
      this.#acks.clear();
    });
  }

  #lost(): void {
    if (this.#closed) return;
    for (const channel of this.#channels) this.#confirmed.set(channel, Number.NEGATIVE_INFINITY);
    this.#leaseUntil = 0;
    for (const channel of this.#channels) this.#listeningSince.set(channel, Number.POSITIVE_INFINITY);
    for (const pending of this.#pending.values()) pending.wake();
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
