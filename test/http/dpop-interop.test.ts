// Independent DPoP clients from npm against our server (DPoP required, server nonces on):
// panva's oauth4webapi (`DPoP(client, keyPair)` + `protectedResourceRequest`) and openid-client
// (`getDPoPHandle` + `fetchProtectedResource`) on the protected routes, with tokens bound at a
// login whose proof jose made (login and refresh are not OAuth token endpoints).
import assert from 'node:assert/strict';
import { randomUUID, type webcrypto } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { freePort } from '../scale/harness.ts';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

let t: TestApp;
let issuer: string;
before(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  t = await testApp({ issuer, dpop: 'required', dpopNonce: true });
  await t.app.listen({ host: '127.0.0.1', port });
});
after(() => t.close());

const oauthClient: oauth.Client = { client_id: 'interop' };
const insecure = { [oauth.allowInsecureRequests]: true } as const; // http on 127.0.0.1 in the test

async function keyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
}

/** POSTs `path` with a jose-made proof by `keys`, answering the server's nonce challenge once. */
async function signIn(keys: CryptoKeyPair, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  const jwk = await exportJWK(keys.publicKey);
  let nonce: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const dpop = await new SignJWT({ htm: 'POST', htu: `${issuer}${path}`, ...(nonce && { nonce }) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .setJti(randomUUID())
      .setIssuedAt(Math.floor(t.clock.now() / 1000))
      .sign(keys.privateKey);
    const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', dpop, ...init.headers }, body: JSON.stringify(init.body ?? {}) });
    if (res.status === 400 && attempt === 0 && res.headers.has('dpop-nonce')) {
      nonce = res.headers.get('dpop-nonce')!;
      await res.body?.cancel();
      continue;
    }
    return res;
  }
}

async function boundLogin(keys: CryptoKeyPair): Promise<{ accessToken: string; refreshToken: string; tokenType: string; email: string }> {
  const email = uniqueEmail();
  const reg = await fetch(`${issuer}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: goodPassword }) });
  assert.equal(reg.status, 201);
  const res = await signIn(keys, '/auth/login', { body: { email, password: goodPassword } });
  assert.equal(res.status, 200, await res.clone().text());
  return { ...((await res.json()) as { accessToken: string; refreshToken: string; tokenType: string }), email };
}

/** oauth4webapi's documented recovery: a `use_dpop_nonce` challenge is retried once, the handle having cached the nonce. */
async function resourceRequest(token: string, method: string, path: string, handle: oauth.DPoPHandle | undefined): Promise<Response> {
  const send = () => oauth.protectedResourceRequest(token, method, new URL(`${issuer}${path}`), undefined, undefined, { ...insecure, ...(handle && { DPoP: handle }) });
  try {
    return await send();
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return send();
    throw err;
  }
}

function challengeOf(err: unknown): oauth.WWWAuthenticateChallenge[] {
  assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `expected a WWW-Authenticate challenge, got ${String(err)}`);
  return err.cause;
}

describe('oauth4webapi as an independent DPoP client', () => {
  test('a token bound at login (cnf.jkt = the key thumbprint) works through protectedResourceRequest, after the server nonce challenge', async () => {
    const keys = await keyPair();
    const s = await boundLogin(keys);
    assert.equal(s.tokenType, 'DPoP');
    const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
    assert.deepEqual(decodeJwt(s.accessToken).cnf, { jkt });
    const handle = oauth.DPoP(oauthClient, keys);
    // The handle has no nonce yet: the server challenges (401, WWW-Authenticate: DPoP error="use_dpop_nonce").
    await assert.rejects(oauth.protectedResourceRequest(s.accessToken, 'GET', new URL(`${issuer}/auth/me`), undefined, undefined, { ...insecure, DPoP: handle }), (err) => oauth.isDPoPNonceError(err));
    const me = await oauth.protectedResourceRequest(s.accessToken, 'GET', new URL(`${issuer}/auth/me`), undefined, undefined, { ...insecure, DPoP: handle });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { email: string }).email, s.email);
    // The answer carried the next nonce, which the handle cached: no challenge this time.
    const again = await oauth.protectedResourceRequest(s.accessToken, 'GET', new URL(`${issuer}/auth/sessions`), undefined, undefined, { ...insecure, DPoP: handle });
    assert.equal(again.status, 200);
    await again.body?.cancel();
  });

  test('refused: the bound token as Bearer, and with another key\'s handle (RFC 9449 challenges)', async () => {
    const keys = await keyPair();
    const s = await boundLogin(keys);
    await assert.rejects(resourceRequest(s.accessToken, 'GET', '/auth/me', undefined), (err) => {
      assert.ok(challengeOf(err).some((c) => c.scheme === 'dpop'), 'a DPoP challenge');
      return true;
    });
    const other = oauth.DPoP(oauthClient, await keyPair());
    await assert.rejects(resourceRequest(s.accessToken, 'GET', '/auth/me', other), (err) => {
      const dpop = challengeOf(err).find((c) => c.scheme === 'dpop');
      assert.equal(dpop?.parameters.error, 'invalid_dpop_proof');
      return true;
    });
  });

  test('a refresh proved by the same key (jose) gives a bound token that oauth4webapi uses; logout through it ends the session', async () => {
    const keys = await keyPair();
    const s = await boundLogin(keys);
    const refreshed = await signIn(keys, '/auth/refresh', { body: { refreshToken: s.refreshToken } });
    assert.equal(refreshed.status, 200);
    const next = (await refreshed.json()) as { accessToken: string; tokenType: string };
    assert.equal(next.tokenType, 'DPoP');
    const handle = oauth.DPoP(oauthClient, keys);
    assert.equal((await resourceRequest(next.accessToken, 'GET', '/auth/me', handle)).status, 200);
    const logout = await resourceRequest(next.accessToken, 'POST', '/auth/logout', handle);
    assert.equal(logout.status, 204);
    await assert.rejects(resourceRequest(next.accessToken, 'GET', '/auth/me', handle), (err) => {
      assert.ok(challengeOf(err).some((c) => c.scheme === 'dpop' && c.parameters.error === 'invalid_token'));
      return true;
    });
  });
});

describe('openid-client as an independent DPoP client', () => {
  test('fetchProtectedResource with getDPoPHandle recovers from use_dpop_nonce by itself', async () => {
    const keys = await keyPair();
    const s = await boundLogin(keys);
    const config = new oidc.Configuration({ issuer }, 'interop');
    oidc.allowInsecureRequests(config);
    const handle = oidc.getDPoPHandle(config, keys);
    const me = await oidc.fetchProtectedResource(config, s.accessToken, new URL(`${issuer}/auth/me`), 'GET', undefined, undefined, { DPoP: handle });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { email: string }).email, s.email);
  });
});
