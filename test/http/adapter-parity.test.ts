import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inject, type InjectOptions } from 'light-my-request';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, type BuildAppOptions } from '../../src/http/app.ts';
import { createFetchHandler } from '../../src/http/fetch-handler.ts';
import { createNodeHandler } from '../../src/http/node-handler.ts';
import { fastHasher, fetchBridge, goodPassword, issuer } from '../helpers.ts';

/*
 * The same requests to the three adapters side by side: every answer that does not depend on the
 * data (errors, preflights, metadata) must be the same, byte for byte in its body and in the
 * headers a client reads. The behaviour suites run over each adapter alone; this compares them.
 */

const options = { issuer, databaseUrl: 'sqlite::memory:', passwordHasher: fastHasher, rateLimits: false, docs: false, allowedOrigins: ['https://app.example.com'] } satisfies BuildAppOptions;
type Send = (o: InjectOptions) => Promise<LightMyRequestResponse>;
const adapters: Array<{ name: string; send: Send; close: () => Promise<void> }> = [];

before(async () => {
  const app = buildApp(options);
  await app.ready();
  adapters.push({ name: 'fastify', send: (o) => app.inject(o), close: () => app.close() });
  const node = await createNodeHandler(options);
  adapters.push({ name: 'node', send: (o) => inject(node, o) as Promise<LightMyRequestResponse>, close: () => node.close() });
  const bridged = fetchBridge(await createFetchHandler(options));
  adapters.push({ name: 'fetch', send: (o) => inject(bridged, o) as Promise<LightMyRequestResponse>, close: () => bridged.close() });
});
after(async () => {
  for (const a of adapters) await a.close();
});

/** What a client reads of an answer. */
const readHeaders = ['content-type', 'www-authenticate', 'cache-control', 'retry-after', 'vary', 'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-expose-headers', 'access-control-max-age', 'x-content-type-options'];
function seen(res: LightMyRequestResponse): Record<string, unknown> {
  return { status: res.statusCode, body: res.body, ...Object.fromEntries(readHeaders.map((h) => [h, res.headers[h]])) };
}

const json = { 'content-type': 'application/json' };
const cases: Array<[string, InjectOptions]> = [
  ['an unknown field', { method: 'POST', url: '/auth/login', headers: json, payload: JSON.stringify({ email: 'a@example.com', password: goodPassword, isAdmin: true }) }],
  ['a field of the wrong type', { method: 'POST', url: '/auth/register', headers: json, payload: JSON.stringify({ email: 123, password: goodPassword }) }],
  ['a missing field', { method: 'POST', url: '/auth/refresh', headers: json, payload: '{}' }],
  ['a body that is not an object', { method: 'POST', url: '/auth/login', headers: json, payload: '[1]' }],
  ['malformed JSON', { method: 'POST', url: '/auth/login', headers: json, payload: '{"password":secret}' }],
  ['a prototype key', { method: 'POST', url: '/auth/login', headers: json, payload: '{"__proto__":{"a":1}}' }],
  ['a text/plain body', { method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: '{}' }],
  ['a body without a type', { method: 'POST', url: '/auth/login', payload: Buffer.from('{}') }],
  ['a body past 16 KiB', { method: 'POST', url: '/auth/login', headers: json, payload: JSON.stringify({ email: 'x'.repeat(20_000) }) }],
  ['a bad logout scope after a missing token', { method: 'POST', url: '/auth/logout', headers: json, payload: '{"scope":"all"}' }],
  ['no token', { method: 'GET', url: '/auth/me' }],
  ['a malformed token', { method: 'GET', url: '/auth/me', headers: { authorization: 'Bearer abc' } }],
  ['an unknown route', { method: 'GET', url: '/auth/nothing?x=1' }],
  ['a malformed URL', { method: 'GET', url: '/auth/%zz' }],
  ['a preflight from an allowed origin', { method: 'OPTIONS', url: '/auth/login', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } }],
  ['a preflight from another origin', { method: 'OPTIONS', url: '/auth/login', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } }],
  ['a CORS request from an allowed origin', { method: 'GET', url: '/auth/me', headers: { origin: 'https://app.example.com' } }],
  ['a cookie sign-in from another origin', { method: 'POST', url: '/auth/login', headers: { ...json, origin: 'https://evil.example', 'tokenstile-transport': 'cookie' }, payload: JSON.stringify({ email: 'a@example.com', password: goodPassword }) }],
  ['the signed-out status', { method: 'GET', url: '/auth/refresh/status' }],
  ['a revocation with no client', { method: 'POST', url: '/oauth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=x' }],
  ['a revocation with JSON', { method: 'POST', url: '/oauth/revoke', headers: json, payload: '{"token":"x"}' }],
  ['a repeated form parameter', { method: 'POST', url: '/oauth/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, payload: 'token=a&token=b' }],
  ['the stream with no client', { method: 'GET', url: '/revocations/stream' }],
  ['the server metadata', { method: 'GET', url: '/.well-known/oauth-authorization-server' }],
  ['liveness', { method: 'GET', url: '/healthz' }],
];

for (const [what, request] of cases) {
  test(`${what}: every adapter answers the same`, async () => {
    const [reference, ...others] = await Promise.all(adapters.map(async (a) => ({ name: a.name, answer: seen(await a.send(request)) })));
    for (const other of others) assert.deepEqual(other.answer, reference!.answer, `${other.name} differs from ${reference!.name}`);
  });
}

test('a cookie-transport sign-in sets the same cookies, with the same attributes, on every adapter', async () => {
  const cookiesOf = async (send: Send, email: string) => {
    await send({ method: 'POST', url: '/auth/register', headers: json, payload: JSON.stringify({ email, password: goodPassword }) });
    const login = await send({ method: 'POST', url: '/auth/login', headers: { ...json, 'tokenstile-transport': 'cookie', origin: 'https://app.example.com' }, payload: JSON.stringify({ email, password: goodPassword }) });
    assert.equal(login.statusCode, 200, login.body);
    // Values differ (each adapter has its own keys and sessions); names and attributes may not.
    return [login.headers['set-cookie']].flat().map((c) => String(c).replace(/^([^=]+)=[^;]*/, '$1=…')).sort();
  };
  const [reference, ...others] = await Promise.all(adapters.map(async (a) => ({ name: a.name, cookies: await cookiesOf(a.send, `parity-${a.name}@example.com`) })));
  assert.equal(reference!.cookies.length, 3, reference!.cookies.join('\n'));
  for (const other of others) assert.deepEqual(other.cookies, reference!.cookies, `${other.name} differs from ${reference!.name}`);
});
