// The host app's own routes guarded by the embedded server's middleware (Express through the
// Node adapter's protect(), Hono through the fetch adapter's, Next.js-style withAuth): a
// DPoP-bound token passes with a proof for the app's route (htu = issuer origin + its path).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import express from 'express';
import { Hono } from 'hono';
import type { AuthInfo } from '../../src/core/auth-info.ts';
import { createFetchHandler, withAuth } from '../../src/http/fetch-handler.ts';
import { callerOf, createNodeHandler } from '../../src/http/node-handler.ts';
import { fastHasher, goodPassword, issuer, uniqueEmail } from '../helpers.ts';
import { proof, proofKey } from './proof-helpers.ts';

const base = { issuer, databaseUrl: 'sqlite::memory:', passwordHasher: fastHasher, rateLimits: false, docs: false } as const;
const json = { 'content-type': 'application/json' };

interface Mounted {
  call(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

async function expressApp(): Promise<Mounted> {
  const auth = await createNodeHandler(base);
  const app = express();
  app.use(auth);
  const api = express.Router();
  api.get('/notes', auth.protect(), (req, res) => void res.json({ userId: callerOf(req).userId }));
  app.use('/api', api);
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { call: (path, init) => fetch(`${url}${path}`, init), close: async () => void (await auth.close(), server.close()) };
}

async function honoApp(): Promise<Mounted> {
  const auth = await createFetchHandler(base);
  const app = new Hono<{ Variables: { auth: AuthInfo } }>();
  app.get('/api/notes', auth.protect(), (c) => c.json({ userId: c.get('auth').userId }));
  app.all('*', (c) => auth(c.req.raw));
  return { call: async (path, init) => app.fetch(new Request(`http://127.0.0.1:3000${path}`, init)), close: () => auth.close() };
}

async function nextStyle(): Promise<Mounted> {
  const ready = createFetchHandler(base);
  const GET = withAuth(ready, (_request, caller) => Response.json({ userId: caller.userId }));
  const auth = await ready;
  return {
    call: async (path, init) => {
      const request = new Request(`http://127.0.0.1:3000${path}`, init);
      return path.startsWith('/api/notes') ? GET(request, {}) : auth(request);
    },
    close: () => auth.close(),
  };
}

for (const [name, mount] of Object.entries({ Express: expressApp, Hono: honoApp, 'Next.js withAuth': nextStyle })) {
  describe(`${name}: the app's own routes with a DPoP-bound token`, async () => {
    const app = await mount();
    after(() => app.close());

    test('passes with a proof for the route; refused without one or with another key', async () => {
      const key = await proofKey();
      const email = uniqueEmail();
      assert.equal((await app.call('/auth/register', { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) })).status, 201);
      const login = await app.call('/auth/login', { method: 'POST', headers: { ...json, dpop: await proof(key, 'POST', '/auth/login', Date.now()) }, body: JSON.stringify({ email, password: goodPassword }) });
      assert.equal(login.status, 200, await login.clone().text());
      const tokens = (await login.json()) as { tokenType: string; accessToken: string; user: { id: string } };
      assert.equal(tokens.tokenType, 'DPoP');
      const call = async (dpop?: string) => app.call('/api/notes?page=1', { headers: { authorization: `DPoP ${tokens.accessToken}`, ...(dpop !== undefined && { dpop }) } });
      const ok = await call(await proof(key, 'GET', '/api/notes', Date.now(), tokens.accessToken));
      assert.equal(ok.status, 200, await ok.clone().text());
      assert.deepEqual(await ok.json(), { userId: tokens.user.id });
      const none = await call();
      assert.equal(none.status, 401);
      assert.match(String(none.headers.get('www-authenticate')), /^DPoP error="invalid_dpop_proof"/);
      const other = await call(await proof(await proofKey(), 'GET', '/api/notes', Date.now(), tokens.accessToken));
      assert.equal(other.status, 401);
      const wrongPath = await call(await proof(key, 'GET', '/api/other', Date.now(), tokens.accessToken));
      assert.equal(wrongPath.status, 401);
    });
  });
}
