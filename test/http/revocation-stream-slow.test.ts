// Issue 17 item 21: clients of the revocation stream that never read must cost a bounded amount
// of memory and time; a client that reads still gets every event.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Socket as ServerSocket } from 'node:net';
import { client } from '../verify/verify-helpers.ts';

const auth = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;

describe('the revocation stream bounds what a slow consumer costs', () => {
  test('clients that never read are dropped with at most the cap buffered; revocations stay fast; a reading client gets everything', async () => {
    const Fastify = (await import('fastify')).default;
    const { ClientRegistry } = await import('../../src/core/clients.ts');
    const { revocationStreamRoutes } = await import('../../src/http/revocation-stream.ts');
    let listener: ((rs: Array<{ id: string; expiresAt: number }>) => void | Promise<void>) | undefined;
    const core = {
      degraded: false,
      config: { revocationLeaseMs: 1500 },
      liveRevocations: () => [],
      onRevocations: (l: typeof listener) => {
        listener = l;
        return () => {};
      },
      holdForVerifiers: () => {},
    };
    const maxBufferedBytes = 64 * 1024;
    const app = Fastify();
    await app.register(revocationStreamRoutes, {
      core: core as never,
      feed: core,
      clients: new ClientRegistry([{ id: client.clientId, secret: client.clientSecret }]),
      stream: { heartbeatMs: 50, maxBufferedBytes },
    });
    const serverSockets = new Set<ServerSocket>();
    app.server.on('connection', (s: ServerSocket) => serverSockets.add(s));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = new URL(url);
    const slow: Socket[] = [];
    const controller = new AbortController();
    try {
      // Clients that send the request and never read a byte. On loopback the kernel takes about
      // 4 MB per connection before anything stays in the process, so each gets more than that.
      const clients = 20;
      await Promise.all(
        Array.from({ length: clients }, () => {
          const s = connect({ host: '127.0.0.1', port: Number(port) });
          s.on('error', () => {});
          slow.push(s);
          return new Promise<void>((resolve) => {
            s.once('connect', () => {
              s.pause();
              s.write(`GET /revocations/stream HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${auth}\r\n\r\n`, () => resolve());
            });
          });
        }),
      );
      // One client that reads everything.
      const res = await fetch(`${url}/revocations/stream`, { headers: { authorization: auth }, signal: controller.signal });
      const received = new Set<string>();
      const reading = (async () => {
        let buffer = '';
        for await (const chunk of res.body!) {
          buffer += Buffer.from(chunk).toString('utf8');
          for (const m of buffer.matchAll(/"(s\d+-\d+)"/g)) received.add(m[1]!);
          buffer = buffer.slice(Math.max(0, buffer.lastIndexOf('\n')));
        }
      })().catch(() => {});
      const until = Date.now() + 5000;
      while (listener === undefined || serverSockets.size < clients + 1) {
        assert.ok(Date.now() < until, 'streams not open');
        await new Promise((r) => setTimeout(r, 10));
      }

      // Events of 1000 sessions each (about 40 KB) until the kernel's buffers are full and the
      // non-readers are dropped: about 110 here; at most 800 (32 MB per client).
      const perEvent = 1000;
      const timings: number[] = [];
      let peakBuffered = 0;
      let events = 0;
      const openCount = () => [...serverSockets].filter((s) => !s.destroyed).length;
      for (let e = 0; e < 800 && openCount() > 1; e++, events++) {
        const batch = Array.from({ length: perEvent }, (_, i) => ({ id: `s${e}-${i}`, expiresAt: Date.now() + 60_000 }));
        const t0 = performance.now();
        await listener!(batch);
        timings.push(performance.now() - t0);
        let buffered = 0;
        for (const s of serverSockets) if (!s.destroyed) buffered += s.writableLength;
        peakBuffered = Math.max(peakBuffered, buffered);
        // Let the sockets drain what they can, as a server between requests would.
        await new Promise((r) => setImmediate(r));
      }
      timings.sort((a, b) => a - b);
      const open = openCount();
      console.log(
        `# ${clients} non-reading streams, ${events} events of ${perEvent} sessions: ${open} connections left open; peak ${(peakBuffered / 1024).toFixed(0)} KiB buffered in the process; ` +
          `one revocation event to all: p50 ${timings[Math.floor(events / 2)]!.toFixed(2)} ms, max ${timings.at(-1)!.toFixed(2)} ms; rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
      );
      // Each stream holds at most its opening write plus the cap, plus one event that crosses it.
      const eventBytes = perEvent * 40 + 100;
      assert.ok(peakBuffered <= (clients + 1) * (maxBufferedBytes + 2 * eventBytes + 1024), `${peakBuffered} bytes buffered`);
      assert.ok(open <= 2, `${open} connections still open: the non-readers were not dropped`);
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 10_000;
        const check = () => {
          if (received.size === events * perEvent) resolve();
          else if (Date.now() > deadline) reject(new Error(`the reading client got ${received.size} of ${events * perEvent}`));
          else setTimeout(check, 10);
        };
        check();
      });
      controller.abort();
      await reading;
    } finally {
      controller.abort();
      for (const s of slow) s.destroy();
      await app.close();
    }
  });
});
