import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import express from 'express';
import express4 from 'express4';
import { Hono } from 'hono';
import { createFetchHandler } from '../../src/http/fetch-handler.ts';
import { createNodeHandler } from '../../src/http/node-handler.ts';
import { client, clients } from '../verify/verify-helpers.ts';
import { fastHasher, goodPassword, issuer, uniqueEmail } from '../helpers.ts';

/*
 * The Node and fetch adapters mounted as users mount them: in Express 5 and 4 (with its own
 * routes and body parser), under a prefix, in Hono, and closed. The behaviour suites run over both adapters
 * through `TOKENSTILE_TEST_ADAPTER`; this file covers what only mounting shows.
 */

const base = { issuer, databaseUrl: 'sqlite::memory:', passwordHasher: fastHasher, rateLimits: false, docs: false } as const;
const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function signUp(url: string, prefix = ''): Promise<{ accessToken: string; refreshToken: string }> {
  const email = uniqueEmail();
  const post = (path: string, body: unknown) => fetch(`${url}${prefix}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await post('/auth/register', { email, password: goodPassword })).status, 201);
  const login = await post('/auth/login', { email, password: goodPassword });
  assert.equal(login.status, 200);
  return (await login.json()) as { accessToken: string; refreshToken: string };
}

describe('the Node handler in Express', () => {
  test("serves the contract's routes and hands every other request on to the app's own routes", async () => {
    const auth = await createNodeHandler(base);
    const app = express();
    app.use(auth);
    app.use(express.json());
    app.get('/', (_req, res) => void res.json({ service: 'notes' }));
    app.post('/echo', (req, res) => void res.json(req.body));
    const server = createServer(app);
    const url = await listen(server);
    try {
      const tokens = await signUp(url);
      const me = await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
      assert.equal(me.status, 200);
      assert.deepEqual(await (await fetch(`${url}/`)).json(), { service: 'notes' });
      const echo = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      assert.deepEqual(await echo.json(), { a: 1 }, "the app's body parser still sees its own bodies");
      const unknownAuth = await fetch(`${url}/nothing-here`);
      assert.equal(unknownAuth.status, 404, "Express's own 404 for what neither serves");
    } finally {
      await auth.close();
      server.close();
    }
  });

  test('under a prefix: routes, cookie paths and OpenAPI paths follow it; a body parser in front is tolerated', async () => {
    const auth = await createNodeHandler({ ...base, prefix: '/identity', docs: true });
    const app = express();
    app.use(express.json());
    app.use('/identity', auth);
    const server = createServer(app);
    const url = await listen(server);
    try {
      const tokens = await signUp(url, '/identity');
      assert.equal((await fetch(`${url}/identity/auth/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } })).status, 200);
      assert.equal((await fetch(`${url}/auth/me`)).status, 404, 'nothing at the root');
      const email = uniqueEmail();
      const json = { 'content-type': 'application/json' };
      await fetch(`${url}/identity/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) });
      const login = await fetch(`${url}/identity/auth/login`, { method: 'POST', headers: { ...json, 'tokenstile-transport': 'cookie' }, body: JSON.stringify({ email, password: goodPassword }) });
      assert.equal(login.status, 200);
      const refresh = login.headers.getSetCookie().find((c) => c.startsWith('__Secure-tokenstile-refresh='));
      assert.match(String(refresh), /Path=\/identity\/auth\/refresh/);
      const doc = (await (await fetch(`${url}/identity/docs/json`)).json()) as { paths: Record<string, unknown> };
      assert.ok(doc.paths['/identity/auth/login'], 'the OpenAPI document names the mounted paths');
      const unknownField = await fetch(`${url}/identity/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword, isAdmin: true }) });
      assert.equal(unknownField.status, 400);
      assert.equal(((await unknownField.json()) as { field: string }).field, 'isAdmin', 'a body parsed by express.json() is still validated');
    } finally {
      await auth.close();
      server.close();
    }
  });

  test('in Express 4: under a prefix behind its body parser, beside the app\'s own routes (which get their bodies and 404s)', async () => {
    const auth = await createNodeHandler({ ...base, prefix: '/identity' });
    const app = express4();
    app.use(express4.json());
    app.use('/identity', auth);
    app.get('/', (_req, res) => void res.json({ service: 'notes' }));
    app.post('/echo', (req, res) => void res.json(req.body));
    const server = createServer(app);
    const url = await listen(server);
    try {
      const tokens = await signUp(url, '/identity');
      assert.equal((await fetch(`${url}/identity/auth/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } })).status, 200);
      assert.equal((await fetch(`${url}/auth/me`)).status, 404, 'nothing at the root');
      assert.deepEqual(await (await fetch(`${url}/`)).json(), { service: 'notes' });
      const echo = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      assert.deepEqual(await echo.json(), { a: 1 });
      const refresh = await fetch(`${url}/identity/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: tokens.refreshToken }) });
      assert.equal(refresh.status, 200, 'a body express.json() parsed first reaches the handler');
      const unknownField = await fetch(`${url}/identity/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: uniqueEmail(), password: goodPassword, isAdmin: true }) });
      assert.equal(((await unknownField.json()) as { field: string }).field, 'isAdmin', 'and is still validated');
      const missing = await fetch(`${url}/identity/nothing-here`);
      assert.equal(missing.status, 404, "what neither serves goes on to Express 4's own 404");
      assert.doesNotMatch(String(missing.headers.get('content-type')), /problem\+json/);
    } finally {
      await auth.close();
      server.close();
    }
  });

  test('after close every request is answered 503 problem+json with Connection: close', async () => {
    const auth = await createNodeHandler(base);
    const server = createServer(auth);
    const url = await listen(server);
    try {
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      await auth.close();
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 503);
      assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
      assert.equal(res.headers.get('connection'), 'close');
    } finally {
      server.close();
    }
  });

  test('a prefix that is not a path is refused at startup, naming the option', async () => {
    await assert.rejects(createNodeHandler({ ...base, prefix: 'identity/' }), /prefix must be empty or a path/);
  });
});

describe('the fetch handler', () => {
  test('in Hono: the contract at the root, the revocation stream as a ReadableStream', async () => {
    const auth = await createFetchHandler({ ...base, clients, revocationStream: { heartbeatMs: 50 } });
    const app = new Hono();
    app.get('/', (c) => c.json({ service: 'notes' }));
    app.all('*', (c) => auth(c.req.raw));
    try {
      assert.deepEqual(await (await app.request('/')).json(), { service: 'notes' });
      const email = uniqueEmail();
      const json = { 'content-type': 'application/json' };
      assert.equal((await app.request('/auth/register', { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) })).status, 201);
      const login = await app.request('/auth/login', { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) });
      const tokens = (await login.json()) as { accessToken: string; session: { id: string } };
      assert.equal((await app.request('/auth/me', { headers: { authorization: `Bearer ${tokens.accessToken}` } })).status, 200);

      const controller = new AbortController();
      const stream = await auth(new Request(`${issuer}/revocations/stream`, { headers: { authorization: basic }, signal: controller.signal }));
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers.get('content-type')), /^text\/event-stream/);
      const reader = stream.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const readUntil = async (pattern: RegExp) => {
        // Bounded: a stream that never says it fails the test instead of hanging it.
        const deadline = Date.now() + 10_000;
        while (!pattern.test(text)) {
          assert.ok(Date.now() < deadline, `no ${pattern} in ${text}`);
          const { value, done } = await reader.read();
          assert.equal(done, false, 'the stream ended early');
          text += decoder.decode(value, { stream: true });
        }
      };
      await readUntil(/event: snapshot/);
      await readUntil(/event: heartbeat/);
      assert.equal((await app.request('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${tokens.accessToken}` } })).status, 204);
      await readUntil(new RegExp(`event: revoked\\ndata: [^\\n]*${tokens.session.id}`));
      await reader.cancel();
    } finally {
      await auth.close();
    }
  });

  test('a request the routes do not know is 404 problem+json, and a closed handler answers 503', async () => {
    const auth = await createFetchHandler(base);
    const missing = await auth(new Request(`${issuer}/nope`));
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'not_found');
    await auth.close();
    const closed = await auth(new Request(`${issuer}/healthz`));
    assert.equal(closed.status, 503);
  });
  test('a revocation stream client that does not read is dropped once it leaves maxBufferedBytes unread', async () => {
    const auth = await createFetchHandler({ ...base, clients, revocationStream: { heartbeatMs: 60_000, maxBufferedBytes: 512 } });
    try {
      const stream = await auth(new Request(`${issuer}/revocations/stream`, { headers: { authorization: basic } }));
      assert.equal(stream.status, 200);
      // Nothing is read from `stream` while revocations pile up.
      const json = { 'content-type': 'application/json' };
      for (let i = 0; i < 20; i++) {
        const email = uniqueEmail();
        await auth(new Request(`${issuer}/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) }));
        const login = await auth(new Request(`${issuer}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: goodPassword }) }));
        const { accessToken } = (await login.json()) as { accessToken: string };
        assert.equal((await auth(new Request(`${issuer}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } }))).status, 204);
      }
      // Dropped: what was queued is discarded and the reader sees an error, not 20 events.
      const reader = stream.body!.getReader();
      const drain = async () => {
        try {
          for (;;) if ((await reader.read()).done) return 'ended';
        } catch (err) {
          return String(err);
        }
      };
      // Bounded: a stream that was kept would stay open, and the test fails instead of hanging.
      const outcome = await Promise.race([drain(), new Promise<string>((resolve) => setTimeout(resolve, 5_000, 'still open').unref())]);
      assert.match(outcome, /dropped/);
    } finally {
      await auth.close();
    }
  });
});
