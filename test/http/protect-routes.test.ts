import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { Hono } from 'hono';
import type { AuthInfo } from '../../src/core/auth-info.ts';
import { createFetchHandler, withAuth } from '../../src/http/fetch-handler.ts';
import { callerOf, createNodeHandler, type NodeHandler } from '../../src/http/node-handler.ts';
import { tokenstile } from '../../src/http/plugin.ts';
import { fastHasher, goodPassword, issuer, uniqueEmail } from '../helpers.ts';

/*
 * The host app's own routes, protected by Tokenstile's middleware in real Express (5 and 4) and Hono apps
 * and by the Next.js-style `withAuth` wrapper: the same answers as Tokenstile's protected routes
 * (Bearer and cookie transport, CSRF, the revocation check, RFC 6750 401 problem+json).
 */

const base = { issuer, databaseUrl: 'sqlite::memory:', passwordHasher: fastHasher, rateLimits: false, docs: false } as const;
const json = { 'content-type': 'application/json' };

/** A mounted app: `call(path, init)` sends a request to it. */
interface Mounted {
  call(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** What the protected routes answer: the caller as the route sees it. */
function callerBody(req: IncomingMessage): { userId: string; sessionId: string; sub: unknown } {
  const caller = callerOf(req);
  assert.equal((req as unknown as { auth: unknown }).auth, caller, 'req.auth is the caller too');
  return { userId: caller.userId, sessionId: caller.sessionId, sub: caller.claims.sub };
}

/** The same app in Express 5 and in Express 4 (the `express4` alias), each checked against its own version's types. */
const expressVersions: Record<'Express' | 'Express 4', (auth: NodeHandler) => RequestListener> = {
  Express(auth) {
    const app = express();
    app.use(auth);
    app.use(express.json());
    app.get('/api/notes', auth.protect(), (req, res) => void res.json(callerBody(req)));
    app.post('/api/notes', auth.protect(), (req, res) => void res.status(201).json({ by: callerOf(req).userId, body: req.body }));
    return app;
  },
  'Express 4'(auth) {
    const app = express4();
    app.use(auth);
    app.use(express4.json());
    app.get('/api/notes', auth.protect(), (req, res) => void res.json(callerBody(req)));
    app.post('/api/notes', auth.protect(), (req, res) => void res.status(201).json({ by: callerOf(req).userId, body: req.body }));
    return app;
  },
};

async function expressApp(build: (auth: NodeHandler) => RequestListener): Promise<Mounted> {
  const auth = await createNodeHandler(base);
  const server = createServer(build(auth));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    call: (path, init) => fetch(`${url}${path}`, init),
    async close() {
      await auth.close();
      server.close();
    },
  };
}

async function honoApp(): Promise<Mounted> {
  const auth = await createFetchHandler(base);
  const app = new Hono<{ Variables: { auth: AuthInfo } }>();
  app.get('/api/notes', auth.protect(), (c) => {
    const caller = c.get('auth');
    return c.json({ userId: caller.userId, sessionId: caller.sessionId, sub: caller.claims.sub });
  });
  app.post('/api/notes', auth.protect(), async (c) => c.json({ by: c.get('auth').userId, body: await c.req.json() }, 201));
  app.all('*', (c) => auth(c.req.raw));
  return { call: async (path, init) => app.fetch(new Request(`http://127.0.0.1:3000${path}`, init)), close: () => auth.close() };
}

/** Next.js App Router style: a route module's handlers wrapped in `withAuth`, the auth routes in a catch-all. */
async function nextStyle(): Promise<Mounted> {
  const ready = createFetchHandler(base);
  const GET = withAuth(ready, (_request, caller) => Response.json({ userId: caller.userId, sessionId: caller.sessionId, sub: caller.claims.sub }));
  const POST = withAuth(ready, async (request, caller) => Response.json({ by: caller.userId, body: await request.json() }, { status: 201 }));
  const auth = await ready;
  return {
    async call(path, init) {
      const request = new Request(`http://127.0.0.1:3000${path}`, init);
      if (path !== '/api/notes') return auth(request);
      return request.method === 'POST' ? POST(request, {}) : GET(request, {});
    },
    close: () => auth.close(),
  };
}

/** Fastify: the plugin's `app.authenticate` hook on the app's own routes. */
async function fastifyApp(): Promise<Mounted> {
  const app = Fastify();
  await app.register(tokenstile, base);
  app.get('/api/notes', { onRequest: app.authenticate }, async (request) => ({ userId: request.auth!.userId, sessionId: request.auth!.sessionId, sub: request.auth!.claims.sub }));
  app.post('/api/notes', { onRequest: app.authenticate }, async (request, reply) => reply.code(201).send({ by: request.auth!.userId, body: request.body }));
  await app.ready();
  return {
    async call(path, init = {}) {
      const res = await app.inject({ method: (init.method ?? 'GET') as 'GET', url: path, headers: init.headers as Record<string, string>, ...(init.body !== undefined && { payload: String(init.body) }) });
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) for (const v of [value].flat()) if (v !== undefined) headers.append(name, String(v));
      return new Response(res.statusCode === 204 ? null : res.body, { status: res.statusCode, headers });
    },
    close: () => app.close(),
  };
}

const apps: Record<string, () => Promise<Mounted>> = {
  Express: () => expressApp(expressVersions.Express),
  'Express 4': () => expressApp(expressVersions['Express 4']),
  Hono: honoApp, 'Next.js withAuth': nextStyle,
  'Fastify app.authenticate': fastifyApp,
};

async function expectProblem(res: Response, status: number, code: string): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
  const body = JSON.parse(text) as { code: string; status: number };
  assert.equal(body.code, code);
  assert.equal(body.status, status);
}

for (const [name, mount] of Object.entries(apps)) {
  describe(`${name}: the app's own routes, protected`, async () => {
    const app = await mount();
    after(() => app.close());

    async function signUp(transport?: 'cookie'): Promise<Record<string, unknown> & { cookie: string }> {
      const email = uniqueEmail();
      assert.equal((await app.call('/auth/register', { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) })).status, 201);
      const headers = transport === 'cookie' ? { ...json, 'tokenstile-transport': 'cookie' } : json;
      const login = await app.call('/auth/login', { method: 'POST', headers, body: JSON.stringify({ email, password: goodPassword }) });
      assert.equal(login.status, 200);
      const cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      return { ...((await login.json()) as Record<string, unknown>), cookie };
    }

    test('without a token: 401 problem+json with a bare RFC 6750 challenge', async () => {
      const res = await app.call('/api/notes');
      const challenge = String(res.headers.get('www-authenticate'));
      assert.match(challenge, /^Bearer\b/);
      assert.doesNotMatch(challenge, /error=/, 'no error code when no token was sent (RFC 6750 §3.1)');
      await expectProblem(res, 401, 'invalid_token');
    });

    test('a malformed Bearer token: 401 invalid_token with error="invalid_token"', async () => {
      const res = await app.call('/api/notes', { headers: { authorization: 'Bearer not-a-token' } });
      assert.match(String(res.headers.get('www-authenticate')), /error="invalid_token"/);
      await expectProblem(res, 401, 'invalid_token');
    });

    test('with a Bearer token: 200, and the route sees the caller', async () => {
      const tokens = await signUp();
      const res = await app.call('/api/notes', { headers: { authorization: `Bearer ${tokens.accessToken}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { userId: string; sessionId: string; sub: string };
      assert.equal(body.userId, (tokens.user as { id: string }).id);
      assert.equal(body.sessionId, (tokens.session as { id: string }).id);
      assert.equal(body.sub, body.userId);
    });

    test('with the cookie transport: 200 on GET; a POST needs the CSRF header (403 csrf_failed without it)', async () => {
      const browser = await signUp('cookie');
      assert.equal(browser.accessToken, undefined, 'no token in a cookie-transport body');
      const get = await app.call('/api/notes', { headers: { cookie: browser.cookie } });
      assert.equal(get.status, 200, await get.clone().text());
      const headers = { ...json, cookie: browser.cookie };
      await expectProblem(await app.call('/api/notes', { method: 'POST', headers, body: '{"text":"hi"}' }), 403, 'csrf_failed');
      const wrong = await app.call('/api/notes', { method: 'POST', headers: { ...headers, 'x-csrf-token': 'forged' }, body: '{"text":"hi"}' });
      await expectProblem(wrong, 403, 'csrf_failed');
      const foreign = await app.call('/api/notes', { method: 'POST', headers: { ...headers, 'x-csrf-token': String(browser.csrfToken), origin: 'https://evil.example' }, body: '{"text":"hi"}' });
      await expectProblem(foreign, 403, 'csrf_failed');
      const ok = await app.call('/api/notes', { method: 'POST', headers: { ...headers, 'x-csrf-token': String(browser.csrfToken) }, body: '{"text":"hi"}' });
      assert.equal(ok.status, 201, await ok.clone().text());
      assert.deepEqual(((await ok.json()) as { body: unknown }).body, { text: 'hi' });
    });

    test('right after logout: 401 session_revoked, for the Bearer token and for a copied cookie', async () => {
      const tokens = await signUp();
      const bearer = { authorization: `Bearer ${tokens.accessToken}` };
      assert.equal((await app.call('/api/notes', { headers: bearer })).status, 200);
      assert.equal((await app.call('/auth/logout', { method: 'POST', headers: bearer })).status, 204);
      const res = await app.call('/api/notes', { headers: bearer });
      assert.match(String(res.headers.get('www-authenticate')), /error="invalid_token"/);
      await expectProblem(res, 401, 'session_revoked');

      const browser = await signUp('cookie');
      const csrf = { cookie: browser.cookie, 'x-csrf-token': String(browser.csrfToken) };
      assert.equal((await app.call('/auth/logout', { method: 'POST', headers: csrf })).status, 204);
      const copied = await app.call('/api/notes', { headers: { cookie: browser.cookie } });
      assert.ok(
        copied.headers.getSetCookie().some((c) => c.startsWith('__Host-tokenstile-access=;') && /Max-Age=0/.test(c)),
        'the refused cookie is cleared',
      );
      await expectProblem(copied, 401, 'session_revoked');
    });
  });
}
