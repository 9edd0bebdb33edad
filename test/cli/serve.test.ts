// The standalone server over a real socket: what only a listening server shows.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { serverConfigFromEnv } from '../../src/cli/env-config.ts';
import { startServer } from '../../src/cli/serve.ts';

let app: FastifyInstance;
let port: number;

before(async () => {
  const config = serverConfigFromEnv({ HOST: '127.0.0.1', PORT: '0', TOKENSTILE_DATABASE_URL: 'sqlite::memory:', TOKENSTILE_LOG_LEVEL: 'silent' });
  ({ app } = await startServer(config));
  port = (app.server.address() as { port: number }).port;
});
after(() => app.close());

function raw(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

test('serves /healthz over HTTP', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('oversized headers get 431 problem+json from the HTTP parser, not a bare close', async () => {
  const status = await new Promise<{ code: number; type: string; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/auth/me', headers: { authorization: `Bearer ${'a'.repeat(20_000)}` } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status.code, 431);
  assert.match(status.type, /^application\/problem\+json/);
  assert.equal(JSON.parse(status.body).code, 'invalid_request');
});

test('a malformed HTTP request gets 400 problem+json', async () => {
  const answer = await raw('GARBAGE / NOT-HTTP\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /application\/problem\+json/);
});

test('configuration errors name the variable', () => {
  assert.throws(() => serverConfigFromEnv({ PORT: 'eighty' }), /PORT must be a port number/);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_SIGNING_ALG: 'HS256' }), /TOKENSTILE_SIGNING_ALG must be one of ES256, EdDSA, RS256/);
  assert.equal(serverConfigFromEnv({ TOKENSTILE_REDIS_URL: 'redis://127.0.0.1:6379' }).app.redisUrl, 'redis://127.0.0.1:6379');
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_RATE_LIMITS: 'sometimes' }), /TOKENSTILE_RATE_LIMITS must be on or off/);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_ACCESS_TOKEN_FORMAT: 'paseto' }), /TOKENSTILE_ACCESS_TOKEN_FORMAT must be one of jwt, opaque, got "paseto"/);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_REVOCATION_CHECK: 'lazy' }), /TOKENSTILE_REVOCATION_CHECK must be one of pushed, strict/);
  assert.equal(serverConfigFromEnv({ TOKENSTILE_ACCESS_TOKEN_FORMAT: 'opaque' }).app.accessTokenFormat, 'opaque');
  assert.equal(serverConfigFromEnv({ TOKENSTILE_REVOCATION_CHECK: 'strict' }).app.revocationCheck, 'strict');
  assert.equal(serverConfigFromEnv({}).app.accessTokenFormat, 'jwt');
  assert.equal(serverConfigFromEnv({ HOST: '::1', PORT: '8080' }).app.issuer, 'http://[::1]:8080');
});

test('database URLs are shown without any password', async () => {
  const { redactUrl } = await import('../../src/stores/open-stores.ts');
  const cases: Array<[string, string]> = [
    ['postgres://app:s3cret@db:5432/auth', 's3cret'],
    ['postgres://app:s3cr/t@db:5432/auth?password=other', 'other'],
    ['postgres://app@db/auth?sslpassword=keypass&schema=x', 'keypass'],
    ['postgres://app:p%40ss@db/auth', 'p%40ss'],
  ];
  for (const [url, secret] of cases) {
    const shown = redactUrl(url);
    assert.equal(shown.includes(secret), false, `${shown} still shows ${secret}`);
    assert.match(shown, /db/);
  }
});
