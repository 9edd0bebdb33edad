import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { expressAuth } from '../../src/verify/express.ts';
import { honoAuth, type TokenstileHonoEnv } from '../../src/verify/hono.ts';
import { tokenstileVerifier } from '../../src/http/verifier-plugin.ts';
import type { Verifier } from '../../src/verify/index.ts';
import { bearer } from '../helpers.ts';
import { eventually, listeningApp, verifierFor } from './verify-helpers.ts';

/** Each adapter mounted on `GET /whoami`, answering `{userId, sessionId}`; returns a fetch to it and a closer. */
const adapters: Record<string, (v: Verifier) => Promise<{ get: (headers: Record<string, string>) => Promise<Response>; close: () => Promise<void> }>> = {
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

for (const [name, mount] of Object.entries(adapters)) {
  describe(`${name} adapter`, () => {
    test('lets a valid token through with typed auth; 401 with RFC 6750 challenges and problem+json otherwise', async () => {
      const t = await listeningApp();
      const v = verifierFor(t);
      const server = await mount(v);
      try {
        await v.ready();
        const s = await t.signUp();
        const ok = await server.get(bearer(s.accessToken));
        assert.equal(ok.status, 200);
        assert.deepEqual(await ok.json(), { userId: s.user.id, sessionId: s.session.id });

        const missing = await server.get({});
        assert.equal(missing.status, 401);
        assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="tokenstile"');
        assert.match(String(missing.headers.get('content-type')), /^application\/problem\+json/);
        assert.equal(((await missing.json()) as { code: string }).code, 'invalid_token');

        const forged = await server.get(bearer(`${s.accessToken}x`));
        assert.equal(forged.status, 401);
        assert.match(String(forged.headers.get('www-authenticate')), /error="invalid_token"/);

        await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) });
        await eventually(async () => (await server.get(bearer(s.accessToken))).status === 401, 5000, 'refusal after logout');
        const revoked = await server.get(bearer(s.accessToken));
        const body = (await revoked.json()) as { code: string; status: number };
        assert.equal(body.code, 'session_revoked');
        assert.equal(body.status, 401);
        assert.match(String(revoked.headers.get('www-authenticate')), /^Bearer realm="tokenstile", error="invalid_token"/);
      } finally {
        await server.close();
        v.close();
        await t.close();
      }
    });
  });
}

test('adapters refuse to be built without a verifier', () => {
  assert.throws(() => expressAuth(undefined as never), /createVerifier/);
  assert.throws(() => honoAuth({} as never), /createVerifier/);
});
