import type { FastifyInstance } from 'fastify';
import { preloadPasswordStrength } from '../core/password-strength.ts';
import { buildApp } from '../http/app.ts';
import { redactUrl } from '../stores/open-stores.ts';
import { openConfiguredStores, type ServerConfig } from './env-config.ts';

/**
 * Starts the standalone server and resolves once it listens. A database or Redis that cannot be
 * reached fails it with a message naming the variable; nothing is left open then.
 */
export async function startServer(config: ServerConfig): Promise<{ app: FastifyInstance; url: string }> {
  const warnings: string[] = [];
  // The password-strength dictionaries load now (about a second), not at the first sign-up.
  preloadPasswordStrength();
  const stores = await openConfiguredStores(config, { warn: (message) => warnings.push(message) });
  const app = buildApp({ ...config.app, stores, logger: { level: config.logLevel } });
  app.addHook('onClose', () => stores.close());
  for (const message of warnings) app.log.warn(`tokenstile: ${message}`);
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
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
