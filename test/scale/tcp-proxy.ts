// A TCP proxy on loopback that a test can freeze: while frozen it forwards nothing in either
// direction and closes nothing, so the client sees a silent peer (a partition, a hung switch),
// not a reset. Thawed, the held bytes flow on.
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Stops forwarding; connections stay open, bytes wait in the kernel's buffers. */
  freeze(): void;
  /** Forwards again, held bytes first. */
  thaw(): void;
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 and forwards each connection to 127.0.0.1:`targetPort`. */
export async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    if (frozen) s.pause();
  };
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    thaw() {
      frozen = false;
      for (const s of sockets) s.resume();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
