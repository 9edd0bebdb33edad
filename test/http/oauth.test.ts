import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, issuer, problemOf, testApp, type TestApp } from '../helpers.ts';

const client = { id: 'orders-api', secret: 'orders-secret-0123456789' };
const clients = `${client.id}:${client.secret}`;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, client.secret) };

async function withApp(fn: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await testApp({ clients });
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

const introspect = (t: TestApp, token: string, headers: Record<string, string> = formHeaders) =>
  t.app.inject({ method: 'POST', url: '/oauth/introspect', headers, payload: form({ token }) });
const revoke = (t: TestApp, token: string, extra: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/oauth/revoke', headers: formHeaders, payload: form({ token, ...extra }) });

describe('RFC 8414 metadata', () => {
  test('names the issuer, JWKS, revocation and introspection endpoints and nothing we do not serve', async () => {
    await withApp(async (t) => {
      const res = await t.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
      assert.equal(res.statusCode, 200);
      const m = res.json();
      assert.equal(m.issuer, issuer);
      assert.equal(m.jwks_uri, `${issuer}/.well-known/jwks.json`);
      assert.equal(m.revocation_endpoint, `${issuer}/oauth/revoke`);
      assert.equal(m.introspection_endpoint, `${issuer}/oauth/introspect`);
      assert.deepEqual(m.introspection_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
      assert.deepEqual(m.response_types_supported, []);
      assert.equal('authorization_endpoint' in m, false);
      assert.equal('token_endpoint' in m, false);
      assert.equal('grant_types_supported' in m, false);
    });
  });
});

describe('RFC 7662 introspection', () => {
  test('an active access token reports its standard claims', async () => {
    await withApp(async (t) => {
      const s = await t.signUp();
      const res = await introspect(t, s.accessToken);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const body = res.json();
      assert.equal(body.active, true);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.sub, s.user.id);
      assert.equal(body.sid, s.session.id);
      assert.equal(body.iss, issuer);
      assert.equal(body.aud, 'tokenstile');
      assert.equal(typeof body.exp, 'number');
      assert.equal(typeof body.iat, 'number');
      assert.equal(typeof body.jti, 'string');
      assert.deepEqual(body.amr, ['pwd'], 'how the session began (RFC 8176)');
    });
  });

  test('a current refresh token is active; a spent one is not', async () => {
    await withApp(async (t) => {
      const s = await t.signUp();
      const active = (await introspect(t, s.refreshToken)).json();
      assert.equal(active.active, true);
      assert.equal(active.sub, s.user.id);
      assert.equal(active.sid, s.session.id);
      assert.equal('token_type' in active, false);
      assert.deepEqual(active.amr, ['pwd']);
      const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
      assert.equal(refreshed.statusCode, 200);
      assert.deepEqual((await introspect(t, s.refreshToken)).json(), { active: false });
    });
  });

  test('revoked, expired, unknown and malformed tokens are only active:false', async () => {
    await withApp(async (t) => {
      const loggedOut = await t.signUp();
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(loggedOut.accessToken) })).statusCode, 204);
      const live = await t.signUp();
      const forged = `${live.accessToken.slice(0, -4)}AAAA`;
      for (const token of [loggedOut.accessToken, loggedOut.refreshToken, forged, 'garbage', 'tsr_nope', 'a.b.c']) {
        const res = await introspect(t, token);
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.json(), { active: false }, token.slice(0, 12));
      }
      t.clock.advance(16 * 60_000);
      assert.deepEqual((await introspect(t, live.accessToken)).json(), { active: false });
    });
  });

  test('client_secret_post works like Basic', async () => {
    await withApp(async (t) => {
      const s = await t.signUp();
      const res = await t.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ token: s.accessToken, client_id: client.id, client_secret: client.secret }),
      });
      assert.equal(res.json().active, true);
    });
  });
});

describe('client authentication', () => {
  test('no, wrong or unknown credentials get 401 invalid_client with a Basic challenge, as problem+json', async () => {
    await withApp(async (t) => {
      const s = await t.signUp();
      const cases: Array<Record<string, string>> = [
        { 'content-type': 'application/x-www-form-urlencoded' },
        { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, 'wrong-secret-0123456789') },
        { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('nobody', client.secret) },
        { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic !!!' },
        { 'content-type': 'application/x-www-form-urlencoded', authorization: bearer(s.accessToken).authorization! },
      ];
      for (const headers of cases) {
        for (const url of ['/oauth/introspect', '/oauth/revoke']) {
          const res = await t.app.inject({ method: 'POST', url, headers, payload: form({ token: s.accessToken }) });
          assert.equal(res.statusCode, 401, `${url} ${headers.authorization}`);
          assert.match(String(res.headers['www-authenticate']), /^Basic realm="tokenstile"/);
          const p = problemOf(res);
          assert.equal(p.code, 'invalid_client');
          assert.equal((res.json() as { error: string }).error, 'invalid_client');
        }
      }
      // Nothing was revoked by the refused calls.
      assert.equal((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) })).statusCode, 200);
    });
  });

  test('both Basic and a client_secret in the form is refused', async () => {
    await withApp(async (t) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: formHeaders,
        payload: form({ token: 'x', client_id: client.id, client_secret: client.secret }),
      });
      assert.equal(res.statusCode, 401);
    });
  });

  test('a server without clients refuses every client', async () => {
    const t = await testApp();
    try {
      const res = await t.app.inject({ method: 'POST', url: '/oauth/introspect', headers: formHeaders, payload: form({ token: 'x' }) });
      assert.equal(res.statusCode, 401);
      assert.equal(problemOf(res).code, 'invalid_client');
    } finally {
      await t.close();
    }
  });

  test('hashed secrets (sha256.) authenticate the secret they were made from', async () => {
    const { newClient } = await import('../../src/core/clients.ts');
    const made = newClient('billing');
    const t = await testApp({ clients: `${made.entry},${clients}` });
    try {
      const res = await introspect(t, 'x', { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('billing', made.secret) });
      assert.deepEqual(res.json(), { active: false });
      const wrong = await introspect(t, 'x', { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('billing', made.entry.split(':')[1]!) });
      assert.equal(wrong.statusCode, 401, 'the stored hash is not itself a secret');
    } finally {
      await t.close();
    }
  });

  test('a short plain secret or a duplicate id fails at startup', async () => {
    await assert.rejects(testApp({ clients: 'a:short' }), /at least 16 characters/);
    await assert.rejects(testApp({ clients: `${clients},${clients}` }), /configured twice/);
  });
});

describe('form bodies on /oauth/*', () => {
  test('JSON, a repeated parameter, a missing token and an oversized body are refused with problem+json', async () => {
    await withApp(async (t) => {
      const json = await t.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: formHeaders.authorization, 'content-type': 'application/json' }, payload: { token: 'x' } });
      assert.equal(json.statusCode, 415);
      assert.equal(problemOf(json).code, 'unsupported_media_type');
      const twice = await t.app.inject({ method: 'POST', url: '/oauth/introspect', headers: formHeaders, payload: 'token=a&token=b' });
      assert.equal(twice.statusCode, 400);
      assert.equal(problemOf(twice).code, 'invalid_request');
      const missing = await t.app.inject({ method: 'POST', url: '/oauth/revoke', headers: formHeaders, payload: 'token_type_hint=access_token' });
      assert.equal(missing.statusCode, 400);
      assert.equal(problemOf(missing).code, 'invalid_request');
      const big = await t.app.inject({ method: 'POST', url: '/oauth/revoke', headers: formHeaders, payload: `token=${'a'.repeat(17 * 1024)}` });
      assert.equal(big.statusCode, 413);
      assert.equal(problemOf(big).code, 'payload_too_large');
    });
  });

  test('the JSON API still refuses form bodies', async () => {
    await withApp(async (t) => {
      const res = await t.app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=a&password=b' });
      assert.equal(res.statusCode, 415);
    });
  });
});

describe('RFC 7009 revocation', () => {
  test('revoking an access token ends its session: the access token and the refresh token are refused', async () => {
    await withApp(async (t) => {
      const s = await t.signUp();
      const res = await revoke(t, s.accessToken, { token_type_hint: 'access_token' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.body, '');
      const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) });
      assert.equal(problemOf(me).code, 'session_revoked');
      const refresh = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
      assert.equal(refresh.statusCode, 401);
    });
  });

  test('revoking a refresh token (even with the wrong hint) ends its session', async () => {
    await withApp(async (t) => {
      const s = await t.signUp();
      const other = await t.signUp();
      assert.equal((await revoke(t, s.refreshToken, { token_type_hint: 'access_token' })).statusCode, 200);
      const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) });
      assert.equal(problemOf(me).code, 'session_revoked');
      assert.equal((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(other.accessToken) })).statusCode, 200, 'other sessions live on');
    });
  });

  test('unknown, malformed and already revoked tokens get 200 too', async () => {
    await withApp(async (t) => {
      const s = await t.signUp();
      for (const token of ['nonsense', 'tsr_AAAA', `${s.accessToken}x`, s.accessToken, s.accessToken]) {
        assert.equal((await revoke(t, token)).statusCode, 200);
      }
    });
  });
});
