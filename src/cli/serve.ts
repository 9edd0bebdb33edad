import type { FastifyInstance } from 'fastify';
import { buildApp } from '../http/app.ts';
import { redactUrl } from '../stores/open-stores.ts';
import type { ServerConfig } from './env-config.ts';

/** Starts the standalone server and resolves once it listens. */
export async function startServer(config: ServerConfig): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildApp({ ...config.app, databaseUrl: config.databaseUrl, logger: { level: config.logLevel } });
  const url = await app.listen({ host: config.host, port: config.port });
  app.log.info({ url, issuer: config.app.issuer, database: redactUrl(config.databaseUrl), alg: config.app.signingAlgorithm }, 'tokenstile: serving');
  return { app, url };
}

/** How long a shutdown may take before the process exits anyway, in milliseconds. */
export const shutdownTimeoutMs = 10_000;

/**
 * Closes the server on SIGINT, SIGTERM or SIGHUP, letting requests in flight finish (new ones get
 * 503 problem+json), then exits 0; 1 if closing failed or took longer than `shutdownTimeoutMs`.
 *
 * The same signal often arrives more than once: Ctrl-C reaches every process of the terminal's
 * process group, and `npm` and `scripts/node.mjs` forward it as well. Every repeat is absorbed
 * while the first shutdown runs, so none of them can kill the process half-closed.
 */
export function closeOnSignals(app: FastifyInstance, timeoutMs = shutdownTimeoutMs): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.debug({ signal }, 'tokenstile: already shutting down');
      return;
    }
    closing = true;
    app.log.info({ signal }, 'tokenstile: shutting down');
    const deadline = setTimeout(() => {
      app.log.error({ timeoutMs }, 'tokenstile: shutdown took too long; exiting');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    app.close().then(
      () => {
        app.log.info('tokenstile: stopped');
        process.exit(0);
      },
      (err: unknown) => {
        app.log.error({ err: { message: (err as Error)?.message } }, 'tokenstile: shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
}
