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
