import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import { buildApp } from '../http/app.ts';
import { problem } from '../http/problem.ts';
import { redactUrl } from '../stores/open-stores.ts';
import type { ServerConfig } from './env-config.ts';

/**
 * Starts the standalone server and resolves once it listens. Requests the HTTP parser refuses
 * before Fastify sees them (oversized headers, garbage) still get a problem+json answer.
 */
export async function startServer(config: ServerConfig): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildApp({ ...config.app, databaseUrl: config.databaseUrl, logger: { level: config.logLevel } });
  app.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ ...problem('invalid_request'), status, detail: status === 431 ? 'Request headers are too large.' : 'The HTTP request is malformed.' });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  const url = await app.listen({ host: config.host, port: config.port });
  app.log.info({ url, issuer: config.app.issuer, database: redactUrl(config.databaseUrl), alg: config.app.signingAlgorithm }, 'tokenstile: serving');
  return { app, url };
}

/** Closes the server on SIGINT/SIGTERM, letting requests in flight finish. */
export function closeOnSignals(app: FastifyInstance): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'tokenstile: shutting down');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
