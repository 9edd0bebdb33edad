// DPoP (RFC 9449) on the server, over every adapter and backend: sign-in and refresh bind the
// session to the client's key, protected routes want a proof by that key for each request, and
// every refusal answers its code with the RFC's `WWW-Authenticate: DPoP` challenge. Proofs are
// made with jose alone (test/dpop/proof-helpers.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { appMode, goodPassword, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem } from '../http/problem-assertions.ts';
import { proof, proofKey, type ProofKey, type ProofParts } from './proof-helpers.ts';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const now = () => t.clock.now();

async function register(app: TestApp = t): Promise<string> {
  const email = uniqueEmail();
  const res = await app.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
  assert.equal(res.statusCode, 201, res.body);
  return email;
}

/** Signs in with a proof by `key`: a bound session. */
async function boundLogin(key: ProofKey, app: TestApp = t): Promise<TokenBody> {
  const email = await register(app);
  const res = await app.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', app.clock.now()) } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
}

/** GET /auth/me with `Authorization: DPoP` and a proof (or the headers given). */
async function me(token: string, key: ProofKey | null, parts: ProofParts = {}, app: TestApp = t, scheme = 'DPoP'): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { authorization: `${scheme} ${token}` };
  if (key !== null) headers.dpop = await proof(key, 'GET', '/auth/me', app.clock.now(), token, parts);
  return app.app.inject({ method: 'GET', url: '/auth/me', headers });
}

/** Asserts a 401 under the DPoP scheme: the code, and `WWW-Authenticate: DPoP error=…, algs=…`. */
function expectDpopRefusal(res: LightMyRequestResponse, code: string, error = code): void {
  expectProblem(res, 401, code);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  assert.match(challenge, new RegExp(`^DPoP error="${error}", error_description="[^"]+", algs="[^"]*ES256[^"]*"$`), challenge);
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('binding at sign-in', () => {
  test('a login with a proof gets tokenType DPoP and an access token bound to the key (cnf.jkt)', async () => {
    const key = await proofKey();
    const s = await boundLogin(key);
    assert.equal(s.tokenType, 'DPoP');
    if (appMode !== 'opaque') assert.deepEqual(claimsOf(s.accessToken).cnf, { jkt: key.jkt });
    const res = await me(s.accessToken, key);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, s.user.id);
  });

  test('a login without a proof gets Bearer tokens as before (optional is the default)', async () => {
    const s = await t.signUp();
    assert.equal(s.tokenType, 'Bearer');
    if (appMode !== 'opaque') assert.equal(claimsOf(s.accessToken).cnf, undefined);
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${s.accessToken}` } });
    assert.equal(res.statusCode, 200, res.body);
  });

  test('a login with a bad proof is refused with 400 invalid_dpop_proof, and signs nobody in', async () => {
    const key = await proofKey();
    const email = await register();
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/refresh', now()) } });
    const body = expectProblem(res, 400, 'invalid_dpop_proof') as { detail: string };
    assert.match(body.detail, /htu/);
  });

  test('a proof is checked for its kind: typ, algorithm, a public key, the signature', async () => {
    const key = await proofKey();
    const other = await proofKey();
    const email = await register();
    const login = async (dpop: string) => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop } });
    expectProblem(await login(await proof(key, 'POST', '/auth/login', now(), undefined, { typ: 'JWT' })), 400, 'invalid_dpop_proof');
    // Another key in the header than the one that signed.
    expectProblem(await login(await proof(key, 'POST', '/auth/login', now(), undefined, { jwk: other.jwk })), 400, 'invalid_dpop_proof');
    // A private key in the header.
    const { exportJWK } = await import('jose');
    const privateJwk = await exportJWK(key.privateKey);
    expectProblem(await login(await proof(key, 'POST', '/auth/login', now(), undefined, { jwk: privateJwk })), 400, 'invalid_dpop_proof');
    // alg none and HS256.
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = enc({ htm: 'POST', htu: 'http://127.0.0.1:3000/auth/login', iat: Math.floor(now() / 1000), jti: 'x1' });
    expectProblem(await login(`${enc({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })}.${claims}.`), 400, 'invalid_dpop_proof');
    expectProblem(await login(`${enc({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${claims}.c2ln`), 400, 'invalid_dpop_proof');
    expectProblem(await login('not-a-jws'), 400, 'invalid_dpop_proof');
    // Still signs in with a good one: nothing was spent by the refusals.
    assert.equal((await login(await proof(key, 'POST', '/auth/login', now()))).statusCode, 200);
  });

  test('ES384, EdDSA, RS256 and PS256 keys bind too', async () => {
    for (const alg of ['ES384', 'EdDSA', 'RS256', 'PS256']) {
      const key = await proofKey(alg);
      const s = await boundLogin(key);
      assert.equal(s.tokenType, 'DPoP', alg);
      assert.equal((await me(s.accessToken, key)).statusCode, 200, alg);
    }
  });
});

describe('protected requests with a bound token', () => {
  let key: ProofKey;
  let s: TokenBody;
  before(async () => {
    key = await proofKey();
    s = await boundLogin(key);
  });

  test('sent with the Bearer scheme: 401 invalid_token with a DPoP challenge', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${s.accessToken}` } });
    expectDpopRefusal(res, 'invalid_token');
  });

  test('sent with the Bearer scheme and a valid proof: still refused', async () => {
    const res = await me(s.accessToken, key, {}, t, 'Bearer');
    expectDpopRefusal(res, 'invalid_token');
  });

  test('without a proof: 401 invalid_dpop_proof', async () => {
    expectDpopRefusal(await me(s.accessToken, null), 'invalid_dpop_proof');
  });

  test('with a proof by another key (a stolen token): 401 invalid_dpop_proof', async () => {
    const thief = await proofKey();
    expectDpopRefusal(await me(s.accessToken, thief), 'invalid_dpop_proof');
  });

  test('with a wrong ath: 401 invalid_dpop_proof', async () => {
    expectDpopRefusal(await me(s.accessToken, key, { ath: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), 'invalid_dpop_proof');
    expectDpopRefusal(await me(s.accessToken, key, { ath: null }), 'invalid_dpop_proof');
  });

  test('with a wrong htm: 401 invalid_dpop_proof', async () => {
    expectDpopRefusal(await me(s.accessToken, key, { htm: 'POST' }), 'invalid_dpop_proof');
  });

  test('with a wrong htu: 401 invalid_dpop_proof', async () => {
    expectDpopRefusal(await me(s.accessToken, key, { htu: 'http://127.0.0.1:3000/auth/sessions' }), 'invalid_dpop_proof');
    expectDpopRefusal(await me(s.accessToken, key, { htu: 'https://evil.example/auth/me' }), 'invalid_dpop_proof');
  });

  test('htu is compared without query and with URL normalization', async () => {
    const res = await me(s.accessToken, key, { htu: 'HTTP://127.0.0.1:3000/auth/me?x=1#f' });
    assert.equal(res.statusCode, 200, res.body);
  });

  test('with a stale or a future iat: 401 invalid_dpop_proof', async () => {
    const secs = Math.floor(now() / 1000);
    // Window: 60 s plus the 5 s clock tolerance.
    expectDpopRefusal(await me(s.accessToken, key, { iat: secs - 120 }), 'invalid_dpop_proof');
    expectDpopRefusal(await me(s.accessToken, key, { iat: secs + 120 }), 'invalid_dpop_proof');
    expectDpopRefusal(await me(s.accessToken, key, { iat: null }), 'invalid_dpop_proof');
    assert.equal((await me(s.accessToken, key, { iat: secs - 30 })).statusCode, 200);
  });

  test('a replayed proof (same jti) is refused', async () => {
    const dpop = await proof(key, 'GET', '/auth/me', now(), s.accessToken);
    const headers = { authorization: `DPoP ${s.accessToken}`, dpop };
    assert.equal((await t.app.inject({ method: 'GET', url: '/auth/me', headers })).statusCode, 200);
    expectDpopRefusal(await t.app.inject({ method: 'GET', url: '/auth/me', headers }), 'invalid_dpop_proof');
  });

  test('without a jti: refused', async () => {
    expectDpopRefusal(await me(s.accessToken, key, { jti: null }), 'invalid_dpop_proof');
  });

  test('two DPoP headers: refused', async () => {
    const a = await proof(key, 'GET', '/auth/me', now(), s.accessToken);
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `DPoP ${s.accessToken}`, dpop: [a, a] as unknown as string } });
    expectDpopRefusal(res, 'invalid_dpop_proof');
  });

  test('a state-changing route works with a proof for its method and path', async () => {
    const dpop = await proof(key, 'PATCH', '/auth/me', now(), s.accessToken);
    const res = await t.app.inject({ method: 'PATCH', url: '/auth/me', headers: { authorization: `DPoP ${s.accessToken}`, dpop }, payload: { name: 'Ada' } });
    assert.equal(res.statusCode, 200, res.body);
  });

  test('after logout the bound token is refused as revoked, under the DPoP scheme', async () => {
    const k = await proofKey();
    const b = await boundLogin(k);
    const out = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: `DPoP ${b.accessToken}`, dpop: await proof(k, 'POST', '/auth/logout', now(), b.accessToken) } });
    assert.equal(out.statusCode, 204, out.body);
    expectDpopRefusal(await me(b.accessToken, k), 'session_revoked', 'invalid_token');
  });
});

describe('the DPoP scheme with a Bearer token', () => {
  test('an unbound token sent with the DPoP scheme is refused (RFC 9449 §7.1)', async () => {
    const s = await t.signUp();
    const key = await proofKey();
    expectDpopRefusal(await me(s.accessToken, key), 'invalid_token');
  });

  test('a request without any token names both schemes in its challenge', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me' });
    expectProblem(res, 401, 'invalid_token');
    assert.match(String(res.headers['www-authenticate']), /^Bearer realm="tokenstile", DPoP algs="[^"]+"$/);
  });

  test('a garbage token with the DPoP scheme: 401 invalid_token with a DPoP challenge', async () => {
    expectDpopRefusal(await me('garbage', await proofKey()), 'invalid_token');
  });
});

describe('refresh of a bound session', () => {
  const refresh = async (refreshToken: string, key: ProofKey | null) =>
    t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken }, headers: key === null ? {} : { dpop: await proof(key, 'POST', '/auth/refresh', now()) } });

  test('with a proof by the same key: new bound tokens', async () => {
    const key = await proofKey();
    const s = await boundLogin(key);
    const res = await refresh(s.refreshToken, key);
    assert.equal(res.statusCode, 200, res.body);
    const next = res.json() as TokenBody;
    assert.equal(next.tokenType, 'DPoP');
    assert.equal((await me(next.accessToken, key)).statusCode, 200);
  });

  test('with another key or no proof: 400 invalid_dpop_proof, and the token is not spent', async () => {
    const key = await proofKey();
    const s = await boundLogin(key);
    expectProblem(await refresh(s.refreshToken, await proofKey()), 400, 'invalid_dpop_proof');
    expectProblem(await refresh(s.refreshToken, null), 400, 'invalid_dpop_proof');
    const bad = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken }, headers: { dpop: 'garbage' } });
    expectProblem(bad, 400, 'invalid_dpop_proof');
    // The owner still refreshes with the same token: nothing was spent, the session lives.
    const res = await refresh(s.refreshToken, key);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((res.json() as TokenBody).tokenType, 'DPoP');
  });

  test('a retry with the just-spent token and the same key gets the same bound successor; another key gets nothing', async () => {
    const key = await proofKey();
    const s = await boundLogin(key);
    const first = await refresh(s.refreshToken, key);
    assert.equal(first.statusCode, 200, first.body);
    expectProblem(await refresh(s.refreshToken, await proofKey()), 400, 'invalid_dpop_proof');
    const retry = await refresh(s.refreshToken, key);
    assert.equal(retry.statusCode, 200, retry.body);
    const [a, b] = [first.json() as TokenBody, retry.json() as TokenBody];
    assert.equal(b.refreshToken, a.refreshToken, 'one lineage');
    assert.equal(b.tokenType, 'DPoP');
    assert.equal((await me(b.accessToken, key)).statusCode, 200);
  });

  test('a proof on the refresh of a Bearer session does not bind it', async () => {
    const s = await t.signUp();
    const res = await refresh(s.refreshToken, await proofKey());
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((res.json() as TokenBody).tokenType, 'Bearer');
  });
});

describe('dpop: required', () => {
  let r: TestApp;
  before(async () => {
    r = await testApp({ dpop: 'required' });
  });
  after(() => r.close());

  test('a sign-in without a proof is refused with 400 invalid_dpop_proof', async () => {
    const email = await register(r);
    const res = await r.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
    expectProblem(res, 400, 'invalid_dpop_proof');
  });

  test('a sign-in with a proof is bound, and its refresh without one refused', async () => {
    const key = await proofKey();
    const s = await boundLogin(key, r);
    assert.equal(s.tokenType, 'DPoP');
    const res = await r.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
    expectProblem(res, 400, 'invalid_dpop_proof');
  });
});

describe('dpop: off', () => {
  test('the DPoP header is ignored at sign-in: Bearer tokens', async () => {
    const o = await testApp({ dpop: 'off' });
    try {
      const email = await register(o);
      const key = await proofKey();
      const res = await o.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', o.clock.now()) } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((res.json() as TokenBody).tokenType, 'Bearer');
      const anonymous = await o.app.inject({ method: 'GET', url: '/auth/me' });
      assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="tokenstile"');
    } finally {
      await o.close();
    }
  });
});

describe('server nonces', () => {
  let n: TestApp;
  before(async () => {
    n = await testApp({ dpopNonce: true });
  });
  after(() => n.close());

  test('a sign-in without the nonce gets 400 use_dpop_nonce and a DPoP-Nonce; with it, tokens', async () => {
    const key = await proofKey();
    const email = await register(n);
    const login = async (parts: ProofParts) =>
      n.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', n.clock.now(), undefined, parts) } });
    const first = await login({});
    expectProblem(first, 400, 'use_dpop_nonce');
    const nonce = String(first.headers['dpop-nonce'] ?? '');
    assert.ok(nonce.length > 0, 'a DPoP-Nonce header');
    expectProblem(await login({ nonce: 'made-up.nonce' }), 400, 'use_dpop_nonce');
    const second = await login({ nonce });
    assert.equal(second.statusCode, 200, second.body);
    const s = second.json() as TokenBody;
    assert.equal(s.tokenType, 'DPoP');

    // Protected requests: 401 use_dpop_nonce with a fresh nonce, then accepted with it.
    const without = await me(s.accessToken, key, {}, n);
    expectDpopRefusal(without, 'use_dpop_nonce');
    const fresh = String(without.headers['dpop-nonce'] ?? '');
    assert.ok(fresh.length > 0);
    const ok = await me(s.accessToken, key, { nonce: fresh }, n);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.ok(String(ok.headers['dpop-nonce'] ?? '').length > 0, 'every DPoP answer offers the current nonce');
  });

  test('a nonce two slots old is stale', async () => {
    const key = await proofKey();
    const email = await register(n);
    const first = await n.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', n.clock.now()) } });
    const nonce = String(first.headers['dpop-nonce']);
    n.clock.advance(11 * 60_000);
    const late = await n.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', n.clock.now(), undefined, { nonce }) } });
    expectProblem(late, 400, 'use_dpop_nonce');
    assert.notEqual(late.headers['dpop-nonce'], nonce, 'a new nonce is offered');
  });
});

describe('cookie transport with DPoP', () => {
  const accessName = '__Host-tokenstile-access';
  const refreshName = '__Secure-tokenstile-refresh';

  test('the cookies hold bound tokens: each request still needs a proof, and refresh needs the key', async () => {
    const key = await proofKey();
    const email = await register();
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: goodPassword },
      headers: { 'tokenstile-transport': 'cookie', dpop: await proof(key, 'POST', '/auth/login', now()) },
    });
    assert.equal(login.statusCode, 200, login.body);
    const body = login.json() as { csrfToken: string; tokenType: string };
    assert.equal(body.tokenType, 'DPoP');
    const access = login.cookies.find((c) => c.name === accessName)!.value;
    const refreshCookie = login.cookies.find((c) => c.name === refreshName)!.value;

    const bare = await t.app.inject({ method: 'GET', url: '/auth/me', cookies: { [accessName]: access } });
    expectDpopRefusal(bare, 'invalid_dpop_proof');
    const proven = await t.app.inject({ method: 'GET', url: '/auth/me', cookies: { [accessName]: access }, headers: { dpop: await proof(key, 'GET', '/auth/me', now(), access) } });
    assert.equal(proven.statusCode, 200, proven.body);

    const csrf = { 'x-csrf-token': body.csrfToken, origin: 'http://127.0.0.1:3000' };
    const noProof = await t.app.inject({ method: 'POST', url: '/auth/refresh', cookies: { [refreshName]: refreshCookie }, headers: csrf });
    expectProblem(noProof, 400, 'invalid_dpop_proof');
    const rotated = await t.app.inject({ method: 'POST', url: '/auth/refresh', cookies: { [refreshName]: refreshCookie }, headers: { ...csrf, dpop: await proof(key, 'POST', '/auth/refresh', now()) } });
    assert.equal(rotated.statusCode, 200, rotated.body);
  });
});

describe('introspection', () => {
  test('a bound access or refresh token is introspected with cnf.jkt and token_type DPoP', async () => {
    const client = { id: 'orders-api', secret: 'orders-secret-0123456789' };
    const i = await testApp({ clients: `${client.id}:${client.secret}` });
    try {
      const key = await proofKey();
      const s = await boundLogin(key, i);
      const introspect = (token: string) =>
        i.app.inject({
          method: 'POST',
          url: '/oauth/introspect',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
          payload: new URLSearchParams({ token }).toString(),
        });
      const access = (await introspect(s.accessToken)).json();
      assert.equal(access.active, true);
      assert.equal(access.token_type, 'DPoP');
      assert.deepEqual(access.cnf, { jkt: key.jkt });
      const refresh = (await introspect(s.refreshToken)).json();
      assert.deepEqual(refresh.cnf, { jkt: key.jkt });
      const plain = await i.signUp();
      const bearer = (await introspect(plain.accessToken)).json();
      assert.equal(bearer.token_type, 'Bearer');
      assert.equal(bearer.cnf, undefined);
    } finally {
      await i.close();
    }
  });
});

describe('metrics', () => {
  test('refused proofs are counted by where and code (never audited)', async () => {
    const m = await testApp({ metrics: true });
    try {
      const key = await proofKey();
      const s = await boundLogin(key, m);
      expectDpopRefusal(await me(s.accessToken, null, {}, m), 'invalid_dpop_proof');
      const email = await register(m);
      expectProblem(await m.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: 'garbage' } }), 400, 'invalid_dpop_proof');
      const text = (await m.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(text, /tokenstile_dpop_proofs_refused_total\{where="resource",code="invalid_dpop_proof"\} 1/);
      assert.match(text, /tokenstile_dpop_proofs_refused_total\{where="sign_in",code="invalid_dpop_proof"\} 1/);
      const audit = await m.app.tokenstile.audit({ limit: 100 });
      assert.ok(!audit.some((e) => e.type.includes('dpop')), 'not in the audit trail');
    } finally {
      await m.close();
    }
  });
});
