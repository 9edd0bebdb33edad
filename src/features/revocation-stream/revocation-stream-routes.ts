import { randomBytes } from 'node:crypto';
import type { ClientRegistry } from '../../core/clients.ts';
import type { Tokenstile } from '../../core/tokenstile.ts';
import { requireClient } from '../../http/client-auth.ts';
import type { EventSink, RouteDefinition } from '../../http/http-types.ts';
import { sendProblem } from '../../http/problem.ts';
import { StreamAcks } from './stream-acks.ts';
import type { RouteSet } from '../../http/routes/route-context.ts';
import type { CoreInternals } from '../../core/core-internals.ts';

/** Options of the revocation stream; defaults suit production. */
export interface RevocationStreamOptions {
  /**
   * A heartbeat every this many ms while this instance's revocation list is trustworthy. Default
   * 500: a verifier's default staleness bound (2 s) then spans four of them, and idle proxies see
   * traffic well within their timeouts.
   */
  readonly heartbeatMs?: number;
  /** How many recent revocation events are kept for `Last-Event-ID` resumption. Default 4096. */
  readonly replayLimit?: number;
  /**
   * A client that leaves more than this many bytes unread (beyond what the connection's opening
   * snapshot still has in flight) is disconnected; it resumes with `Last-Event-ID` or gets a
   * fresh snapshot. Default 65536 (64 KiB): hundreds of revocation events.
   */
  readonly maxBufferedBytes?: number;
  /**
   * A client whose connection has not taken any of its pending bytes for this many ms is
   * disconnected, however little is pending. Default 10000.
   */
  readonly stallMs?: number;
}

type Entry = readonly [id: string, expiresAt: number];

/** One open stream. */
interface OpenStream {
  readonly id: string;
  readonly clientId: string;
  /** Bytes of the opening write (snapshot or replay) not counted against `maxBufferedBytes`. */
  readonly allowance: number;
  /** When the connection last had nothing pending or took some of it (`performance.now()`). */
  progressAt: number;
  lastPending: number;
}

/** What the stream reads from the core's internals: the live list, new revocations, verifier leases. */
export type RevocationFeedInternals = Pick<CoreInternals, 'liveRevocations' | 'onRevocations' | 'holdForVerifiers'>;

/**
 * `GET /revocations/stream`: Server-Sent Events for verifiers (the `tokenstile/verify` SDK), for
 * authenticated clients; and `POST /revocations/stream/ack` for verifiers that acknowledge.
 *
 * - On connect: `event: stream` with `{"stream": id, "leaseMs": ms}` (this connection's id, for
 *   acknowledgements, and the lease they grant); then `event: snapshot` with every live
 *   revocation this instance knows, as `{"revocations":[[sessionId, expiresAtMs], …]}`; then
 *   `event: revoked` with the same shape for each revocation that reaches this instance (made
 *   here, by any other instance through the feed, or found by the store poll).
 * - `event: heartbeat` (`{"at": ms}`) every `heartbeatMs`, only while this instance's list can be
 *   trusted (its own leases current): a verifier that hears nothing knows it may be missing
 *   revocations.
 * - Ids are `<stream epoch>.<sequence>`, where the epoch is random per server process. A
 *   `Last-Event-ID` of this process within the replay window resumes with exactly the missed
 *   events; any other (another instance behind a load balancer, a restart, too old) gets a fresh
 *   snapshot, which is always correct because revocations only accumulate.
 * - A client that does not read is disconnected once it leaves `maxBufferedBytes` unread or takes
 *   nothing for `stallMs`, so that it costs this process a bounded amount of memory and time.
 * - `POST /revocations/stream/ack` `{stream, upTo}` (JSON): answers `{current, leaseMs}`.
 *   `current` is true when `upTo` is the id of the last event sent on that stream before the
 *   request arrived and this instance trusts its list; the verifier may then trust its list for `leaseMs` from when it
 *   sent the request, and this instance confirms a revocation (to whoever made it) only once every
 *   such stream has acknowledged it or its lease has run out. `docs/verify.md` has the proof.
 */
export function revocationStreamRoutes(opts: { core: Pick<Tokenstile, 'config' | 'degraded'>; feed: RevocationFeedInternals; clients: ClientRegistry; stream?: RevocationStreamOptions | undefined }): RouteSet {
  const { core, feed, clients } = opts;
  const heartbeatMs = opts.stream?.heartbeatMs ?? 500;
  const replayLimit = opts.stream?.replayLimit ?? 4096;
  const maxBuffered = opts.stream?.maxBufferedBytes ?? 64 * 1024;
  const stallMs = opts.stream?.stallMs ?? 10_000;
  const leaseMs = core.config.revocationLeaseMs;
  const epoch = randomBytes(6).toString('base64url');
  let seq = 0;
  const recent: Array<{ seq: number; entries: Entry[] }> = [];
  const open = new Map<EventSink, OpenStream>();
  const acks = new StreamAcks(leaseMs);

  /** Writes to one stream, or drops it when it has fallen too far behind. */
  const send = (res: EventSink, stream: OpenStream, text: string): boolean => {
    if (res.writableLength > stream.allowance + maxBuffered) {
      res.destroy();
      return false;
    }
    res.write(text);
    return true;
  };

  const unsubscribe = feed.onRevocations((revocations) => {
    if (revocations.length > 0) {
      seq += 1;
      const entries: Entry[] = revocations.map((r) => [r.id, r.expiresAt]);
      recent.push({ seq, entries });
      if (recent.length > replayLimit) recent.shift();
      const text = `id: ${epoch}.${seq}\nevent: revoked\ndata: ${JSON.stringify({ revocations: entries })}\n\n`;
      for (const [res, stream] of open) if (send(res, stream, text)) acks.sent(stream.id, seq);
    }
    // Held until every acknowledging stream has everything sent so far (or its lease ran out).
    return acks.covered(seq);
  });
  const heartbeat = setInterval(() => {
    const now = performance.now();
    for (const [res, stream] of open) {
      // A removed client's streams end (within the client cache's lifetime, 10 s).
      if (!clients.knows(stream.clientId)) {
        res.end();
        continue;
      }
      const pending = res.writableLength;
      if (pending === 0 || pending < stream.lastPending) stream.progressAt = now;
      stream.lastPending = pending;
      if (now - stream.progressAt > stallMs) res.destroy();
    }
    acks.prune();
    if (core.degraded) return;
    const text = `event: heartbeat\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`;
    for (const [res, stream] of open) send(res, stream, text);
  }, heartbeatMs);
  heartbeat.unref();
  const close = () => {
    clearInterval(heartbeat);
    unsubscribe();
    for (const res of open.keys()) res.end();
    open.clear();
    acks.close();
  };

  /** The events after `lastEventId`, or null when it cannot be resumed here. */
  const replayAfter = (lastEventId: string | undefined): Array<{ seq: number; entries: Entry[] }> | null => {
    if (lastEventId === undefined) return null;
    const last = seqOf(lastEventId, epoch);
    if (last === null || last > seq) return null;
    // Resumable only when nothing after `last` has fallen out of the window.
    if (recent.length > 0 && last + 1 < recent[0]!.seq) return null;
    return recent.filter((e) => e.seq > last);
  };

  const stream: RouteDefinition = {
    method: 'GET',
    url: '/revocations/stream',
    group: 'stream',
    body: 'none',
    schema: { tags: ['oauth'], summary: 'Revocations for verifiers (Server-Sent Events; client authentication)', produces: ['text/event-stream'] },
    handler: async (request, reply) => {
      const clientId = await requireClient(clients, request, reply);
      if (clientId === null) return reply;
      const lastEventId = request.headers['last-event-id'];
      const replay = replayAfter(typeof lastEventId === 'string' ? lastEventId : undefined);
      const res = reply.eventStream({
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // Proxies such as nginx must pass events through as they come.
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      const id = randomBytes(12).toString('base64url');
      let text = `retry: 1000\n\nevent: stream\ndata: ${JSON.stringify({ stream: id, leaseMs })}\n\n`;
      if (replay === null) {
        const snapshot: Entry[] = feed.liveRevocations().map((r) => [r.id, r.expiresAt]);
        text += `id: ${epoch}.${seq}\nevent: snapshot\ndata: ${JSON.stringify({ revocations: snapshot })}\n\n`;
      } else {
        for (const e of replay) text += `id: ${epoch}.${e.seq}\nevent: revoked\ndata: ${JSON.stringify({ revocations: e.entries })}\n\n`;
      }
      if (!core.degraded) text += `event: heartbeat\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`;
      res.write(text);
      const opened: OpenStream = { id, clientId, allowance: Buffer.byteLength(text), progressAt: performance.now(), lastPending: 0 };
      acks.opened(id, clientId, seq);
      open.set(res, opened);
      res.on('drain', () => (opened.progressAt = performance.now()));
      res.on('close', () => {
        open.delete(res);
        acks.closed(id);
      });
      return reply;
    },
  };

  const ack: RouteDefinition = {
    method: 'POST',
    url: '/revocations/stream/ack',
    group: 'stream',
    body: 'json',
    schema: {
      tags: ['oauth'],
      summary: 'Acknowledge the events of a revocation stream (client authentication): renews the verifier\'s lease',
      body: {
        type: 'object',
        required: ['stream', 'upTo'],
        additionalProperties: false,
        properties: { stream: { type: 'string', minLength: 1, maxLength: 64 }, upTo: { type: 'string', minLength: 1, maxLength: 64 } },
      },
    },
    handler: async (request, reply) => {
      // The verifier sent this no later than now: a lease it counts from its send time ends before ours.
      const receivedAt = performance.now();
      const { stream: streamId } = request.body as { stream: string };
      // What the stream had been sent when the request arrived; later events are waited for.
      const sentAtReceipt = acks.sentOf(streamId);
      const clientId = await requireClient(clients, request, reply);
      if (clientId === null) return reply;
      const { stream: acked, upTo } = request.body as { stream: string; upTo: string };
      const upToSeq = seqOf(upTo, epoch);
      if (upToSeq === null) return sendProblem(reply, 'invalid_request', { detail: 'upTo must be the id of an event of this stream (`<epoch>.<sequence>`).' });
      if (!acks.knows(acked, clientId)) return sendProblem(reply, 'not_found', { detail: 'No open revocation stream of this client has that id here; reconnect.' });
      // Announced first, so that no lease is granted before every instance has heard of it.
      feed.holdForVerifiers(leaseMs);
      const current = acks.acknowledge(acked, upToSeq, receivedAt, sentAtReceipt, !core.degraded);
      return reply.code(200).header('cache-control', 'no-store').send({ current, leaseMs });
    },
  };
  return { routes: [stream, ack], close };
}

/** The sequence number of an event id of this process's epoch, or null. */
function seqOf(eventId: string, epoch: string): number | null {
  const m = /^([A-Za-z0-9_-]+)\.(\d{1,15})$/.exec(eventId);
  return m && m[1] === epoch ? Number(m[2]) : null;
}
