import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { backchannelLogoutEvent, logoutTokenAlgorithms, verifyLogoutToken } from '../../../src/features/social/logout-token.ts';

const issuer = 'https://idp.example';
const clientId = 'tokenstile';
const now = Date.UTC(2026, 0, 1, 12);
const key = await generateKeyPair('ES256', { extractable: true });
const rogue = await generateKeyPair('ES256', { extractable: true });
const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'ES256' }] });

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(now / 1000);
  return { iss: issuer, aud: clientId, iat, exp: iat + 120, jti: `j-${Math.random()}`, sid: 's-1', sub: 'u-1', events: { [backchannelLogoutEvent]: {} }, ...over };
}

async function token(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES256', kid: 'k1', typ: 'logout+jwt' }, signer = key.privateKey): Promise<string> {
  const clean = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
  return new SignJWT(clean).setProtectedHeader(header as { alg: string }).sign(signer);
}

const check = (t: string, at = now, algorithms = ['ES256']) => verifyLogoutToken(t, { issuer, clientId, keys, algorithms, now: at, clockToleranceSeconds: 5 });

test('a valid logout token gives its sid, sub and jti, replayable until its exp', async () => {
  const r = await check(await token(claims({ jti: 'abc' })));
  assert.ok(r.ok);
  assert.deepEqual({ ...r.value }, { sub: 'u-1', sid: 's-1', jti: 'abc', replayableUntil: (Math.floor(now / 1000) + 125) * 1000 });
});

test('sid alone or sub alone is enough; no typ header is accepted', async () => {
  assert.ok((await check(await token(claims({ sub: undefined })))).ok);
  assert.ok((await check(await token(claims({ sid: undefined }), { alg: 'ES256', kid: 'k1' }))).ok);
});

test('refused: bad signature, wrong iss, wrong aud, nonce, no events, wrong event, no sid nor sub, no jti, too old, expired, wrong typ, alg none', async () => {
  const iat = Math.floor(now / 1000);
  const cases: Array<[string, Promise<string>]> = [
    ['signed by another key', token(claims(), undefined, rogue.privateKey)],
    ['wrong iss', token(claims({ iss: 'https://other.example' }))],
    ['wrong aud', token(claims({ aud: 'someone-else' }))],
    ['carries a nonce (an ID token)', token(claims({ nonce: 'n' }))],
    ['no events', token(claims({ events: undefined }))],
    ['events without the logout member', token(claims({ events: { 'http://example.com/other': {} } }))],
    ['events member not an object', token(claims({ events: { [backchannelLogoutEvent]: 'yes' } }))],
    ['neither sid nor sub', token(claims({ sid: undefined, sub: undefined }))],
    ['no jti', token(claims({ jti: undefined }))],
    ['no iat', token(claims({ iat: undefined }))],
    ['iat 10 minutes old', token(claims({ iat: iat - 600, exp: iat + 60 }))],
    ['expired', token(claims({ iat: iat - 100, exp: iat - 30 }))],
    ['typ of an ID token', token(claims(), { alg: 'ES256', kid: 'k1', typ: 'JWT+id' })],
    ['alg none', Promise.resolve(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`)],
  ];
  for (const [why, t] of cases) {
    const r = await check(await t);
    assert.equal(r.ok, false, why);
  }
});

test('a symmetric (HS256) token is refused even with a key set that would verify it', async () => {
  const secret = new TextEncoder().encode('x'.repeat(32));
  const t = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  const r = await verifyLogoutToken(t, { issuer, clientId, keys: async () => secret as never, algorithms: ['HS256', 'ES256'], now, clockToleranceSeconds: 5 });
  assert.equal(r.ok, false);
});

test('the algorithm is pinned to those the provider lists: a token signed by its own key with another is refused', async () => {
  // The key set holds an RSA key too: a token signed with it verifies, but the provider lists ES256 only.
  const rsa = await generateKeyPair('PS256', { extractable: true });
  const both = createLocalJWKSet({ keys: [{ ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'ES256' }, { ...(await exportJWK(rsa.publicKey)), kid: 'k2' }] });
  const signed = await token(claims(), { alg: 'PS256', kid: 'k2', typ: 'logout+jwt' }, rsa.privateKey);
  const at = (algorithms: string[]) => verifyLogoutToken(signed, { issuer, clientId, keys: both, algorithms, now, clockToleranceSeconds: 5 });
  assert.equal((await at(['ES256'])).ok, false, 'PS256 while the provider lists ES256');
  assert.equal((await at(['ES256', 'PS256'])).ok, true, 'accepted once the provider lists it');
  assert.equal((await at([])).ok, false, 'nothing accepted when the provider lists no usable algorithm');
  assert.deepEqual(logoutTokenAlgorithms(['none', 'HS256', 'ES256', 'RS256']), ['ES256', 'RS256'], 'unsigned and MAC algorithms never');
  assert.deepEqual(logoutTokenAlgorithms(undefined), ['RS256'], 'RS256 when the metadata lists none');
  assert.deepEqual(logoutTokenAlgorithms(['HS256']), [], 'nothing when it lists only MACs');
});
