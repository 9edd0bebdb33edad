import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { ConfigError } from '../../core/errors.ts';
import type { Revocation } from '../../core/revocation.ts';
import type { RevocationFeed } from '../../core/revocation-feed.ts';
import type { RedisClient, RedisConnection } from './redis-client.ts';

/** Options of `RedisRevocationFeed`. */
export interface RedisRevocationFeedOptions {
  /** How often this feed sends a heartbeat on every channel, in ms. Default 1000. */
  readonly heartbeatMs?: number;
  /** Unhealthy once a channel has been silent (no message, no heartbeat) this long, in ms. Default 3000. */
  readonly staleAfterMs?: number;
  /** Client name of the subscriber connection (CLIENT LIST). Default `tokenstile:feed`. */
  readonly connectionName?: string;
  /** The clock for staleness, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

type Handlers = Parameters<RevocationFeed['start']>[0];

/** Channels of a Cluster: enough for the hash tags to spread them over the shards. */
const shardCount = 16;

/**
 * The revocation feed over Redis pub/sub. A message is compact JSON: `{"r":[[kind, id, userId,
 * revokedAt, expiresAt], …]}` for revocations, `{"hb":"<sender>"}` for a heartbeat. Anything else
 * on the channels is ignored.
 *
 * On one server (or Sentinel) there is one channel, `<prefix>revocations`, with PUBLISH and
 * SUBSCRIBE. On a Cluster, plain pub/sub would copy every message to every node, so it uses
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE) over `<prefix>revocations:{0}` … `{15}`: a revocation
 * goes to channel crc32(session id) % 16, and every feed subscribes to all 16.
 *
 * Health: every feed sends a heartbeat on every channel each `heartbeatMs`. The feed is healthy
 * while every channel has been heard from (by anyone, itself included) within `staleAfterMs`
 * since the subscriber last connected; it turns unhealthy at once when the subscriber connection
 * closes or errs, so a lost subscription shows even if the other channels still deliver.
 */
export class RedisRevocationFeed implements RevocationFeed {
  readonly kind = 'redis';
  readonly #redis: RedisConnection;
  readonly #channels: string[];
  readonly #heard = new Map<string, number>();
  readonly #heartbeat: string = JSON.stringify({ hb: randomBytes(6).toString('base64url') });
  readonly #heartbeatMs: number;
  readonly #staleAfterMs: number;
  readonly #connectionName: string;
  readonly #now: () => number;
  #handlers: Handlers | undefined;
  #subscriber: RedisClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #healthy = false;
  #closed = false;

  constructor(redis: RedisConnection, options: RedisRevocationFeedOptions = {}) {
    this.#redis = redis;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#staleAfterMs = options.staleAfterMs ?? 3000;
    if (!(this.#heartbeatMs > 0) || !(this.#staleAfterMs > this.#heartbeatMs)) {
      throw new ConfigError(`revocation feed: heartbeatMs must be > 0 and staleAfterMs longer than it; got ${this.#heartbeatMs} and ${this.#staleAfterMs}`);
    }
    this.#connectionName = options.connectionName ?? 'tokenstile:feed';
    this.#now = options.now ?? Date.now;
    const base = `${redis.keyPrefix}revocations`;
    this.#channels = redis.isCluster ? Array.from({ length: shardCount }, (_, i) => `${base}:{${i}}`) : [base];
    for (const channel of this.#channels) this.#heard.set(channel, Number.NEGATIVE_INFINITY);
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  async publish(revocations: readonly Revocation[]): Promise<void> {
    if (this.#closed) throw new Error('the revocation feed is closed');
    const byChannel = new Map<string, unknown[]>();
    for (const r of revocations) {
      const channel = this.#channels[crc32(r.id) % this.#channels.length]!;
      const list = byChannel.get(channel) ?? [];
      list.push([r.kind, r.id, r.userId, r.revokedAt, r.expiresAt]);
      byChannel.set(channel, list);
    }
    await Promise.all([...byChannel].map(([channel, list]) => this.#send(channel, JSON.stringify({ r: list }))));
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
    try {
      if (this.#redis.isCluster) {
        // One SSUBSCRIBE per channel: each has its own slot, usually on its own shard.
        await Promise.all(this.#channels.map((channel) => sub.ssubscribe(channel)));
      } else {
        await sub.subscribe(...this.#channels);
      }
    } catch (err) {
      this.#subscriber = undefined;
      this.#handlers = undefined;
      sub.disconnect();
      throw err;
    }
    this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs);
    this.#timer.unref();
    this.#tick();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#healthy = false;
    clearInterval(this.#timer);
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  #send(channel: string, message: string): Promise<unknown> {
    const client = this.#redis.client;
    return this.#redis.isCluster ? client.spublish(channel, message) : client.publish(channel, message);
  }

  #tick(): void {
    this.#update();
    for (const channel of this.#channels) {
      // A failed heartbeat needs no handling: the silence it leaves is what makes the feed unhealthy.
      this.#send(channel, this.#heartbeat).catch(() => {});
    }
  }

  #receive(channel: string, message: string): void {
    if (this.#closed || !this.#heard.has(channel)) return;
    let body: unknown;
    try {
      body = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof body !== 'object' || body === null) return;
    const { hb, r } = body as { hb?: unknown; r?: unknown };
    if (typeof hb !== 'string' && !Array.isArray(r)) return;
    this.#heard.set(channel, this.#now());
    this.#update();
    const revocations = Array.isArray(r) ? r.map(decode).filter((x) => x !== null) : [];
    if (revocations.length === 0) return;
    try {
      this.#handlers?.onRevocations(revocations);
    } catch {
      // The handler's failure is its own; it must not break delivery of the next message.
    }
  }

  #lost(): void {
    if (this.#closed) return;
    for (const channel of this.#channels) this.#heard.set(channel, Number.NEGATIVE_INFINITY);
    this.#update();
  }

  #update(): void {
    const since = this.#now() - this.#staleAfterMs;
    const healthy = !this.#closed && this.#handlers !== undefined && [...this.#heard.values()].every((t) => t > since);
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
