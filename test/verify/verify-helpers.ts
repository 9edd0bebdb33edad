import { createVerifier, type Verifier } from '../../src/verify/index.ts';
import type { VerifierOptions } from '../../src/verify/verify-options.ts';
import { issuer, testApp, type TestApp } from '../helpers.ts';

export const client = { clientId: 'orders-api', clientSecret: 'orders-secret-0123456789' };
export const clients = `${client.clientId}:${client.clientSecret}`;

/** An auth server listening on a free loopback port, with a client and quick heartbeats. */
export interface ListeningApp extends TestApp {
  readonly url: string;
}

export async function listeningApp(options: Parameters<typeof testApp>[0] = {}): Promise<ListeningApp> {
  const t = await testApp({ clients, revocationStream: { heartbeatMs: 200 }, ...options });
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return Object.assign(t, { url });
}

/** A verifier of `t`'s tokens, fed by its revocation stream. */
export function verifierFor(t: ListeningApp, options: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({
    issuer,
    audience: 'tokenstile',
    algorithms: ['ES256'],
    jwksUrl: `${t.url}/.well-known/jwks.json`,
    revocations: { ...client, url: `${t.url}/revocations/stream`, introspectionUrl: `${t.url}/oauth/introspect`, staleAfter: '2s' },
    now: () => t.clock.now(),
    ...options,
  });
}

/** Polls `check` every 5 ms until it returns true, failing after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The error code `promise` rejects with, or 'ok'. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}
