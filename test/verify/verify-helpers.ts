import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { expressAuth } from '../../src/verify/express.ts';
import { honoAuth, type TokenstileHonoEnv } from '../../src/verify/hono.ts';
import { tokenstileVerifier } from '../../src/http/verifier-plugin.ts';
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

/** Each adapter mounted on `GET /whoami`, answering `{userId, sessionId}`; returns a fetch to it and a closer. */
export const adapters: Record<string, (v: Verifier) => Promise<{ get: (headers: Record<string, string>) => Promise<Response>; close: () => Promise<void> }>> = {
  express: async (v) => {
    const app = express();
    app.get('/whoami', expressAuth(v), (req, res) => {
      res.json({ userId: req.auth!.userId, sessionId: req.auth!.sessionId });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/whoami`;
    return { get: (headers) => fetch(url, { headers }), close: () => new Promise((r) => server.close(() => r())) };
  },
  hono: async (v) => {
    const app = new Hono<TokenstileHonoEnv>();
    app.use('/whoami', honoAuth(v));
    app.get('/whoami', (c) => c.json({ userId: c.get('auth').userId, sessionId: c.get('auth').sessionId }));
    return { get: (headers) => Promise.resolve(app.request('/whoami', { headers })), close: async () => {} };
  },
  fastify: async (v) => {
    const app = Fastify();
    await app.register(tokenstileVerifier, { verifier: v });
    app.get('/whoami', { onRequest: app.authenticate }, async (request) => ({ userId: request.tokenAuth!.userId, sessionId: request.tokenAuth!.sessionId }));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { get: (headers) => fetch(`${url}/whoami`, { headers }), close: () => app.close() };
  },
};

