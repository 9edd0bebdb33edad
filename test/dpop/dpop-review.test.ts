// Edge cases of DPoP proof checking found in review: URL normalization of `htu` (RFC 9449 §4.3,
// RFC 3986 §6.2.2), and malformed or hostile proofs at sign-in (a 400, never a 500).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { normalizeHtu, checkProof } from '../../src/core/dpop-proofs.ts';
import { MemoryProofReplayStore } from '../../src/core/proof-replay.ts';
import { goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { expectProblem } from '../http/problem-assertions.ts';
import { proof, proofKey } from './proof-helpers.ts';

describe('htu normalization (RFC 3986 §6.2.2)', () => {
  test('percent-encodings compare case-insensitively, and an encoded unreserved character equals the character', () => {
    assert.equal(normalizeHtu('https://a.example/x%2fy'), normalizeHtu('https://a.example/x%2Fy'));
    assert.equal(normalizeHtu('https://a.example/%7Euser/a%2db'), normalizeHtu('https://a.example/~user/a-b'));
    assert.equal(normalizeHtu('HTTPS://A.example:443/p'), normalizeHtu('https://a.example/p'));
    assert.equal(normalizeHtu('https://a.example'), normalizeHtu('https://a.example/'));
    // Reserved characters stay distinct encoded or not: %2F is not a path separator.
    assert.notEqual(normalizeHtu('https://a.example/x%2Fy'), normalizeHtu('https://a.example/x/y'));
  });
});

describe('checkProof on hostile input', () => {
  const settings = { windowMs: 65_000, now: Date.now, replay: new MemoryProofReplayStore() };
  const expect = { method: 'POST', url: 'https://a.example/auth/login' };
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

  test('garbage never throws: each is a refusal', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const inputs = [
      '', '.', '..', 'a.b.c', 'x'.repeat(20_000), `${b64('null')}.${b64('{}')}.AA`, `${b64('[]')}.e30.AA`,
      `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: [] })}.e30.AA`,
      `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC' } })}.e30.AA`,
      `${b64({ typ: 'dpop+jwt', alg: 'RS256', jwk })}.e30.AA`,
      `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...jwk, d: 'AA' } })}.e30.AA`,
      `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'AAAA' } })}.e30.AA`,
      `${b64({ typ: 'dpop+jwt', alg: 'none', jwk })}.e30.`,
      `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk })}.e30.${'A'.repeat(86)}`,
      `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk, crit: ['b64'], b64: false })}.{}.AA`,
    ];
    for (const input of inputs) {
      const r = await checkProof(input, expect, settings);
      assert.equal(r.ok, false, input.slice(0, 80));
    }
  });
});

describe('RSA keys with a huge public exponent', () => {
  test('are refused before any RSA operation (each would cost as much as a private-key one)', async () => {
    // A 2048-bit modulus and a 2040-bit exponent: the header alone decides, so the signature is filler.
    const n = Buffer.alloc(256, 0xc5).toString('base64url');
    const e = Buffer.alloc(255, 0x8b).toString('base64url');
    const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'RS256', jwk: { kty: 'RSA', n, e } })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ htm: 'POST', htu: 'https://a.example/x', iat: Math.floor(Date.now() / 1000), jti: 'j1' })).toString('base64url');
    const r = await checkProof(`${header}.${claims}.${'A'.repeat(342)}`, { method: 'POST', url: 'https://a.example/x' }, { windowMs: 65_000, now: Date.now, replay: new MemoryProofReplayStore() });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /exponent/);
  });

  test('an ordinary RSA key (e = 65537) still proves', async () => {
    const key = await proofKey('RS256');
    const r = await checkProof(await proof(key, 'POST', 'https://a.example/x', Date.now()), { method: 'POST', url: 'https://a.example/x' }, { windowMs: 65_000, now: Date.now, replay: new MemoryProofReplayStore() });
    assert.deepEqual(r, { ok: true, jkt: key.jkt });
  });
});

describe('sign-in and status over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp();
  });
  after(() => t.close());

  test('a huge, a garbage, and a doubled DPoP header: 400 invalid_dpop_proof', async () => {
    const email = uniqueEmail();
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } })).statusCode, 201);
    const key = await proofKey();
    const good = await proof(key, 'POST', '/auth/login', t.clock.now());
    for (const dpop of ['x'.repeat(12_000), 'e30.e30.e30', `${good}, ${good}`, `${good},`]) {
      const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop } });
      expectProblem(res, 400, 'invalid_dpop_proof');
    }
  });

  test('GET /auth/refresh/status with a bound token sent as Bearer (a stolen token, without its proof): not signed in, as every other route says', async () => {
    const email = uniqueEmail();
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } })).statusCode, 201);
    const key = await proofKey();
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { dpop: await proof(key, 'POST', '/auth/login', t.clock.now()) } });
    assert.equal(login.statusCode, 200, login.body);
    const { accessToken } = login.json() as { accessToken: string };
    const res = await t.app.inject({ method: 'GET', url: '/auth/refresh/status', headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { signedIn: false, refreshable: false, sessionId: null, reason: 'invalid_token' });
  });
});
