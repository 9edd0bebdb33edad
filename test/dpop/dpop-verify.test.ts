// DPoP in tokenstile/verify: `verifyRequest` and the Express, Hono and Fastify middlewares accept
// a bound token only with a proof by its key, answer the RFC 9449 challenges, and `verify(token)`
// never accepts a bound token half-checked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { expressAuth } from '../../src/verify/express.ts';
import { DpopNonces, type Verifier } from '../../src/verify/index.ts';
import { goodPassword, uniqueEmail, type TokenBody } from '../helpers.ts';
import { adapters, listeningApp, outcome, verifierFor, type ListeningApp } from '../verify/verify-helpers.ts';
import { proof, proofKey, type ProofKey } from './proof-helpers.ts';

const api = 'https://api.example.com';

async function boundLogin(t: ListeningApp, key: ProofKey): Promise<TokenBody> {
  const email = uniqueEmail();
  await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', t.clock.now()) } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

/** A request to `GET https://api.example.com/orders` with the token and, when given, a proof by `key`. */
async function request(t: ListeningApp, token: string, key: ProofKey | null, scheme = 'DPoP', parts = {}) {
  return {
    method: 'GET',
    url: `${api}/orders?page=2`,
    authorization: `${scheme} ${token}`,
    dpop: key === null ? undefined : await proof(key, 'GET', `${api}/orders`, t.clock.now(), token, parts),
  };
}

describe('verifyRequest', () => {
  let t: ListeningApp;
  let v: Verifier;
  let key: ProofKey;
  let s: TokenBody;
  before(async () => {
    t = await listeningApp();
    v = verifierFor(t);
    await v.ready();
    key = await proofKey();
    s = await boundLogin(t, key);
  });
  after(async () => {
    v?.close();
    await t?.close();
  });

  test('a bound token with a proof by its key: its claims', async () => {
    const claims = await v.verifyRequest(await request(t, s.accessToken, key));
    assert.equal(claims.sub, s.user.id);
    assert.deepEqual(claims.cnf, { jkt: key.jkt });
  });

  test('verify(token) refuses a bound token: it cannot check the proof', async () => {
    await assert.rejects(v.verify(s.accessToken), (err: Error & { code?: string }) => err.code === 'invalid_token' && /verifyRequest/.test(err.message));
  });

  test('a Bearer token through verifyRequest: accepted as before', async () => {
    const plain = await t.signUp();
    const claims = await v.verifyRequest({ method: 'GET', url: `${api}/orders`, authorization: `Bearer ${plain.accessToken}`, dpop: undefined });
    assert.equal(claims.sub, plain.user.id);
  });

  test('refusals: Bearer scheme, no proof, another key, wrong URL, replay, an unbound token as DPoP', async () => {
    const scheme = async (p: Promise<unknown>) => {
      try {
        await p;
        return 'ok';
      } catch (err) {
        return `${(err as { code: string }).code}/${(err as { scheme: string }).scheme}`;
      }
    };
    assert.equal(await scheme(v.verifyRequest(await request(t, s.accessToken, key, 'Bearer'))), 'invalid_token/DPoP');
    assert.equal(await scheme(v.verifyRequest(await request(t, s.accessToken, null))), 'invalid_dpop_proof/DPoP');
    assert.equal(await scheme(v.verifyRequest(await request(t, s.accessToken, await proofKey()))), 'invalid_dpop_proof/DPoP');
    assert.equal(await scheme(v.verifyRequest(await request(t, s.accessToken, key, 'DPoP', { htu: `${api}/admin` }))), 'invalid_dpop_proof/DPoP');
    assert.equal(await scheme(v.verifyRequest(await request(t, s.accessToken, key, 'DPoP', { iat: Math.floor(t.clock.now() / 1000) - 600 }))), 'invalid_dpop_proof/DPoP');
    const once = await request(t, s.accessToken, key);
    assert.equal(await scheme(v.verifyRequest(once)), 'ok');
    assert.equal(await scheme(v.verifyRequest(once)), 'invalid_dpop_proof/DPoP');
    const plain = await t.signUp();
    assert.equal(await scheme(v.verifyRequest(await request(t, plain.accessToken, key))), 'invalid_token/DPoP');
    assert.equal(await scheme(v.verifyRequest({ method: 'GET', url: api, authorization: undefined, dpop: undefined })), 'invalid_token/Bearer');
  });

  test('after logout a bound token is refused as revoked', async () => {
    const k = await proofKey();
    const b = await boundLogin(t, k);
    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: `DPoP ${b.accessToken}`, dpop: await proof(k, 'POST', '/auth/logout', t.clock.now(), b.accessToken) } });
    assert.equal(out.statusCode, 204, out.body);
    const deadline = Date.now() + 10_000;
    let code = 'ok';
    while (code === 'ok' && Date.now() < deadline) {
      code = await outcome(v.verifyRequest(await request(t, b.accessToken, k)));
      if (code === 'ok') await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(code, 'session_revoked');
  });
});

describe('verifier dpop options', () => {
  let t: ListeningApp;
  before(async () => {
    t = await listeningApp();
  });
  after(() => t.close());

  test('required: Bearer tokens are refused', async () => {
    const v = verifierFor(t, { dpop: { required: true } });
    try {
      await v.ready();
      const plain = await t.signUp();
      assert.equal(await outcome(v.verifyRequest({ method: 'GET', url: api, authorization: `Bearer ${plain.accessToken}`, dpop: undefined })), 'invalid_token');
      const key = await proofKey();
      const s = await boundLogin(t, key);
      assert.equal(await outcome(v.verifyRequest(await request(t, s.accessToken, key))), 'ok');
    } finally {
      v.close();
    }
  });

  test('nonces: a proof without the current nonce is refused with use_dpop_nonce; with it, accepted', async () => {
    const nonces = new DpopNonces('a resource server secret of 32+ bytes!', () => t.clock.now());
    const v = verifierFor(t, { dpop: { nonces } });
    try {
      await v.ready();
      const key = await proofKey();
      const s = await boundLogin(t, key);
      assert.equal(await outcome(v.verifyRequest(await request(t, s.accessToken, key))), 'use_dpop_nonce');
      const nonce = v.dpopNonce();
      assert.ok(nonce);
      assert.equal(await outcome(v.verifyRequest(await request(t, s.accessToken, key, 'DPoP', { nonce }))), 'ok');
    } finally {
      v.close();
    }
  });

  test('origin: the proof must name the configured origin, whatever URL the request says', async () => {
    const v = verifierFor(t, { dpop: { origin: api } });
    try {
      await v.ready();
      const key = await proofKey();
      const s = await boundLogin(t, key);
      const dpop = await proof(key, 'GET', `${api}/orders`, t.clock.now(), s.accessToken);
      assert.equal(await outcome(v.verifyRequest({ method: 'GET', url: '/orders?x=1', authorization: `DPoP ${s.accessToken}`, dpop })), 'ok');
      const spoofed = await proof(key, 'GET', 'https://evil.example/orders', t.clock.now(), s.accessToken);
      assert.equal(await outcome(v.verifyRequest({ method: 'GET', url: 'https://evil.example/orders', authorization: `DPoP ${s.accessToken}`, dpop: spoofed })), 'invalid_dpop_proof');
    } finally {
      v.close();
    }
  });

  test('bad options fail at startup, naming the field', () => {
    assert.throws(() => verifierFor(t, { dpop: { required: 'yes' as unknown as boolean } }), /dpop\.required/);
    assert.throws(() => verifierFor(t, { dpop: { proofWindow: '1h' } }), /dpop\.proofWindow/);
    assert.throws(() => verifierFor(t, { dpop: { replay: {} as never } }), /dpop\.replay/);
  });
});

describe('opaque handles bound by DPoP, checked by introspection', () => {
  test('the introspected cnf binds the handle', async () => {
    const t = await listeningApp({ accessTokenFormat: 'opaque' });
    const v = verifierFor(t);
    try {
      await v.ready();
      const key = await proofKey();
      const s = await boundLogin(t, key);
      assert.match(s.accessToken, /^tsa_/);
      assert.equal(await outcome(v.verifyRequest(await request(t, s.accessToken, key))), 'ok');
      assert.equal(await outcome(v.verifyRequest(await request(t, s.accessToken, await proofKey()))), 'invalid_dpop_proof');
      assert.equal(await outcome(v.verify(s.accessToken)), 'invalid_token');
    } finally {
      v.close();
      await t.close();
    }
  });
});

// The middlewares of test/verify/verify-helpers.ts; the verifier's dpop.origin makes every URL `https://api.example.com/whoami`.
for (const [name, mount] of Object.entries(adapters)) {
  describe(`${name} middleware with DPoP`, () => {
    test('a proof by the bound key passes; refusals carry WWW-Authenticate: DPoP and problem+json', async () => {
      const t = await listeningApp();
      const nonces = new DpopNonces('another resource server secret, 32+ bytes', () => t.clock.now());
      const v = verifierFor(t, { dpop: { origin: api, nonces } });
      const server = await mount(v);
      try {
        await v.ready();
        const key = await proofKey();
        const s = await boundLogin(t, key);
        const nonce = v.dpopNonce()!;
        const prove = async (signer: ProofKey, parts = {}) => proof(signer, 'GET', `${api}/whoami`, t.clock.now(), s.accessToken, { nonce, ...parts });

        const ok = await server.get({ authorization: `DPoP ${s.accessToken}`, dpop: await prove(key) });
        assert.equal(ok.status, 200, await ok.clone().text());
        assert.deepEqual(await ok.json(), { userId: s.user.id, sessionId: s.session.id });
        assert.equal(ok.headers.get('dpop-nonce'), nonce, 'the nonce is offered on success too');

        const stolen = await server.get({ authorization: `DPoP ${s.accessToken}`, dpop: await prove(await proofKey()) });
        assert.equal(stolen.status, 401);
        assert.match(String(stolen.headers.get('www-authenticate')), /^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="[^"]+"$/);
        assert.match(String(stolen.headers.get('content-type')), /^application\/problem\+json/);
        assert.equal(((await stolen.json()) as { code: string }).code, 'invalid_dpop_proof');

        const asBearer = await server.get({ authorization: `Bearer ${s.accessToken}` });
        assert.equal(asBearer.status, 401);
        assert.match(String(asBearer.headers.get('www-authenticate')), /^DPoP error="invalid_token"/);

        const noNonce = await server.get({ authorization: `DPoP ${s.accessToken}`, dpop: await proof(key, 'GET', `${api}/whoami`, t.clock.now(), s.accessToken) });
        assert.equal(noNonce.status, 401);
        assert.match(String(noNonce.headers.get('www-authenticate')), /^DPoP error="use_dpop_nonce"/);
        assert.equal(noNonce.headers.get('dpop-nonce'), nonce);

        // A Bearer session goes through the same middleware unchanged.
        const plain = await t.signUp();
        assert.equal((await server.get({ authorization: `Bearer ${plain.accessToken}` })).status, 200);
        const missing = await server.get({});
        assert.equal(missing.status, 401);
        assert.match(String(missing.headers.get('www-authenticate')), /^Bearer realm="tokenstile"/);
      } finally {
        await server.close();
        v.close();
        await t.close();
      }
    });
  });
}

test('express without dpop.origin: the proof names the URL the request was sent to', async () => {
  const t = await listeningApp();
  const v = verifierFor(t);
  const app = express();
  const router = express.Router();
  router.get('/whoami', expressAuth(v), (req, res) => void res.json({ userId: req.auth!.userId }));
  app.use('/api', router);
  const server = app.listen(0, '127.0.0.1');
  try {
    await new Promise((r) => server.once('listening', r));
    await v.ready();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/whoami`;
    const key = await proofKey();
    const s = await boundLogin(t, key);
    const res = await fetch(`${url}?q=1`, { headers: { authorization: `DPoP ${s.accessToken}`, dpop: await proof(key, 'GET', url, t.clock.now(), s.accessToken) } });
    assert.equal(res.status, 200, await res.text());
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    v.close();
    await t.close();
  }
});
