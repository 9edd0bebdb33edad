import { crc32 } from 'node:zlib';
import type { Revocation } from '../../core/revocation.ts';

/**
 * The wire format of the Redis revocation feed: channel names and messages (`RedisRevocationFeed`
 * has the protocol they serve).
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
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE) goes over `<prefix>revocations:{0}` … `{15}`: a
 * revocation goes to channel crc32(session id) % 16, and every feed subscribes to all 16.
 */

/** Channels of a Cluster: enough for the hash tags to spread them over the shards. */
const shardCount = 16;

/** The revocation channels: one on a single server, `shardCount` hash-tagged ones on a Cluster. */
export function revocationChannels(keyPrefix: string, isCluster: boolean): string[] {
  const base = `${keyPrefix}revocations`;
  return isCluster ? Array.from({ length: shardCount }, (_, i) => `${base}:{${i}}`) : [base];
}

/** The channel on which the instance `id` receives acknowledgements (its own slot on a Cluster). */
export function ackChannel(keyPrefix: string, isCluster: boolean, id: string): string {
  const base = `${keyPrefix}revocations:ack:`;
  return isCluster ? `${base}{${id}}` : `${base}${id}`;
}

/** The revocation channel a revocation goes to. */
export function channelOf(revocation: Revocation, channels: readonly string[]): string {
  return channels[crc32(revocation.id) % channels.length]!;
}

/** The wire tuple of a revocation. */
export function encodeRevocation(r: Revocation): unknown[] {
  return [r.kind, r.id, r.userId, r.revokedAt, r.expiresAt];
}

export const revocationsMessage = (list: readonly unknown[], sender: string, seq: number): string => JSON.stringify({ r: list, m: sender, q: seq });

export const heartbeatMessage = (sender: string, seq: number, leaseMs: number, verifierLeaseMs: number): string =>
  JSON.stringify(verifierLeaseMs > 0 ? { hb: sender, n: seq, l: leaseMs, v: verifierLeaseMs } : { hb: sender, n: seq, l: leaseMs });

export const byeMessage = (sender: string): string => JSON.stringify({ bye: sender });

export const ackMessage = (acks: ReadonlyArray<readonly [number, number]>, sender: string): string => JSON.stringify({ a: acks, by: sender });

/** A message of a revocation channel, as far as it could be read. */
export type ChannelMessage =
  | { readonly type: 'heartbeat'; readonly sender: string; readonly seq: unknown; readonly leaseMs: unknown; readonly verifierLeaseMs: unknown }
  | { readonly type: 'bye'; readonly sender: string }
  /** `sender` and `seq` are absent from an older release's messages (applied, not acknowledged). */
  | { readonly type: 'revocations'; readonly revocations: Revocation[]; readonly sender: unknown; readonly seq: unknown }
  | { readonly type: 'unknown' };

/** The JSON object a message holds, or null (not JSON, or not an object). */
export function parseMessage(message: string): Record<string, unknown> | null {
  let body: unknown;
  try {
    body = JSON.parse(message);
  } catch {
    return null;
  }
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null;
}

/** What a revocation channel's message says; a heartbeat first, then a bye, then revocations. */
export function readChannelMessage(body: Record<string, unknown>): ChannelMessage {
  const { hb, n, l, v, r, m, q, bye } = body;
  if (typeof hb === 'string') return { type: 'heartbeat', sender: hb, seq: n, leaseMs: l, verifierLeaseMs: v };
  if (typeof bye === 'string') return { type: 'bye', sender: bye };
  if (!Array.isArray(r)) return { type: 'unknown' };
  return { type: 'revocations', revocations: r.map(decodeRevocation).filter((x) => x !== null), sender: m, seq: q };
}

/** An acknowledgement message: who sent it and the `[seq, channel]` pairs it acknowledges; null if malformed. */
export function readAckMessage(body: Record<string, unknown>): { readonly sender: string; readonly acks: Array<[number, number]> } | null {
  const { a, by } = body;
  if (typeof by !== 'string' || !Array.isArray(a)) return null;
  const acks: Array<[number, number]> = [];
  for (const entry of a) {
    // [seq, channel]; a bare seq (one channel) from a single-server feed is channel 0.
    const [seq, channel] = (Array.isArray(entry) ? entry : [entry, 0]) as unknown[];
    if (typeof seq === 'number' && typeof channel === 'number') acks.push([seq, channel]);
  }
  return { sender: by, acks };
}

/** A revocation from its wire tuple, or null for anything malformed or of an unknown kind. */
function decodeRevocation(entry: unknown): Revocation | null {
  if (!Array.isArray(entry)) return null;
  const [kind, id, userId, revokedAt, expiresAt] = entry as unknown[];
  if (kind !== 'session' || typeof id !== 'string' || typeof userId !== 'string') return null;
  if (typeof revokedAt !== 'number' || typeof expiresAt !== 'number' || !Number.isFinite(revokedAt) || !Number.isFinite(expiresAt)) return null;
  return { kind, id, userId, revokedAt, expiresAt };
}
