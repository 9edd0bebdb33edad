import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ClientRegistry } from '../core/clients.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { requireClient } from './client-auth.ts';

/** Options of the revocation stream; defaults suit production. */
export interface RevocationStreamOptions {
  /** A heartbeat every this many ms while this instance's revocation list is trustworthy. Default 2000. */
  readonly heartbeatMs?: number;
  /** How many recent revocation events are kept for `Last-Event-ID` resumption. Default 4096. */
  readonly replayLimit?: number;
}

type Entry = readonly [id: string, expiresAt: number];

/** A client that reads slower than this many bytes behind is disconnected (it resumes or gets a snapshot). */
const maxBuffered = 4 * 1024 * 1024;

/**
 * `GET /revocations/stream`: Server-Sent Events for verifiers (the `tokenstile/verify` SDK), for
 * authenticated clients.
 *
 * - On connect: `event: snapshot` with every live revocation this instance knows, as
 *   `{"revocations":[[sessionId, expiresAtMs], …]}`; then `event: revoked` with the same shape for
 *   each revocation that reaches this instance (made here, by any other instance through the feed,
 *   or found by the store poll).
 * - `event: heartbeat` (`{"at": ms}`) every `heartbeatMs`, only while this instance's list can be
 *   trusted (its own feed healthy): a verifier that hears nothing knows it may be missing revocations.
 * - Ids are `<stream epoch>.<sequence>`, where the epoch is random per server process. A
 *   `Last-Event-ID` of this process within the replay window resumes with exactly the missed
 *   events; any other (another instance behind a load balancer, a restart, too old) gets a fresh
 *   snapshot, which is always correct because revocations only accumulate.
 */
export async function revocationStreamRoutes(app: FastifyInstance, opts: { core: Tokenstile; clients: ClientRegistry; stream?: RevocationStreamOptions }): Promise<void> {
  const { core, clients } = opts;
  const heartbeatMs = opts.stream?.heartbeatMs ?? 2000;
  const replayLimit = opts.stream?.replayLimit ?? 4096;
  const epoch = randomBytes(6).toString('base64url');
  let seq = 0;
  const recent: Array<{ seq: number; entries: Entry[] }> = [];
  /** Each open stream, with the client it belongs to. */
  const open = new Map<ServerResponse, string>();

  const send = (res: ServerResponse, text: string) => {
    if (res.writableLength > maxBuffered) {
      res.destroy();
      return;
    }
    res.write(text);
  };

  const unsubscribe = core.onRevocations((revocations) => {
    seq += 1;
    const entries: Entry[] = revocations.map((r) => [r.id, r.expiresAt]);
    recent.push({ seq, entries });
    if (recent.length > replayLimit) recent.shift();
    const text = `id: ${epoch}.${seq}\nevent: revoked\ndata: ${JSON.stringify({ revocations: entries })}\n\n`;
    for (const res of open.keys()) send(res, text);
  });
  const heartbeat = setInterval(() => {
    // A removed client's streams end (within the client cache's lifetime, 10 s).
    for (const [res, clientId] of open) if (!clients.knows(clientId)) res.end();
    if (core.degraded) return;
    const text = `event: heartbeat\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`;
    for (const res of open.keys()) send(res, text);
  }, heartbeatMs);
  heartbeat.unref();
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    unsubscribe();
    for (const res of open.keys()) res.end();
    open.clear();
  });

  /** The events after `lastEventId`, or null when it cannot be resumed here. */
  const replayAfter = (lastEventId: string | undefined): Array<{ seq: number; entries: Entry[] }> | null => {
    if (lastEventId === undefined) return null;
    const m = /^([A-Za-z0-9_-]+)\.(\d{1,15})$/.exec(lastEventId);
    if (!m || m[1] !== epoch) return null;
    const last = Number(m[2]);
    if (last > seq) return null;
    // Resumable only when nothing after `last` has fallen out of the window.
    if (recent.length > 0 && last + 1 < recent[0]!.seq) return null;
    return recent.filter((e) => e.seq > last);
  };

  app.get(
    '/revocations/stream',
    {
      schema: { tags: ['oauth'], summary: 'Revocations for verifiers (Server-Sent Events; client authentication)', produces: ['text/event-stream'] },
    },
    async (request, reply) => {
      const clientId = await requireClient(clients, request, reply);
      if (clientId === null) return reply;
      const lastEventId = request.headers['last-event-id'];
      const replay = replayAfter(typeof lastEventId === 'string' ? lastEventId : undefined);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // Proxies such as nginx must pass events through as they come.
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.socket?.setNoDelay(true);
      let text = 'retry: 1000\n\n';
      if (replay === null) {
        const snapshot: Entry[] = core.liveRevocations().map((r) => [r.id, r.expiresAt]);
        text += `id: ${epoch}.${seq}\nevent: snapshot\ndata: ${JSON.stringify({ revocations: snapshot })}\n\n`;
      } else {
        for (const e of replay) text += `id: ${epoch}.${e.seq}\nevent: revoked\ndata: ${JSON.stringify({ revocations: e.entries })}\n\n`;
      }
      if (!core.degraded) text += `event: heartbeat\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`;
      res.write(text);
      open.set(res, clientId);
      res.on('close', () => open.delete(res));
      return reply;
    },
  );
}
