import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { issuer, jwtOnly, testApp } from '../helpers.ts';

const audience = 'tokenstile';
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

for (const signingAlgorithm of ['ES256', 'EdDSA', 'RS256'] as const) {
  describe(`${signingAlgorithm} access tokens verify with the independent jose library`, { skip: jwtOnly }, () => {
    test('jwtVerify against the published JWKS, with issuer, audience, algorithm and typ pinned', async () => {
      const t = await testApp({ signingAlgorithm });
      try {
        const jwksRes = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
        assert.equal(jwksRes.statusCode, 200, jwksRes.body);
        const jwks = jwksRes.json() as JSONWebKeySet;
        assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1);
        for (const key of jwks.keys) {
          for (const member of privateMembers) assert.equal(member in key, false, `the JWKS publishes private member ${member}`);
          assert.equal(key.alg, signingAlgorithm);
          assert.equal(key.use, 'sig');
          assert.equal(typeof key.kid, 'string');
        }

        const s = await t.signUp();
        // jose checks `exp`/`iat` against the real clock; the test app's clock starts at real time.
        const { payload, protectedHeader } = await jwtVerify(s.accessToken, createLocalJWKSet(jwks), {
          issuer,
          audience,
          algorithms: [signingAlgorithm],
          typ: 'at+jwt',
          currentDate: new Date(t.clock.now()),
        });

        assert.equal(protectedHeader.alg, signingAlgorithm);
        assert.equal(protectedHeader.typ, 'at+jwt');
        assert.equal(typeof protectedHeader.kid, 'string');
        assert.ok(jwks.keys.some((k) => k.kid === protectedHeader.kid), 'kid is in the JWKS');
        assert.deepEqual(decodeProtectedHeader(s.accessToken), protectedHeader);

        assert.equal(payload.iss, issuer);
        assert.equal(payload.aud, audience);
        assert.equal(payload.sub, s.user.id);
        assert.equal(payload.sid, s.session.id);
        assert.equal(typeof payload.jti, 'string');
        assert.ok((payload.jti ?? '').length >= 16);
        assert.equal(typeof payload.iat, 'number');
        assert.equal(typeof payload.exp, 'number');
        assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 900);
        assert.equal(payload.iat, Math.floor(t.clock.now() / 1000));

        // A refreshed token verifies the same way, with a fresh jti.
        const refreshed = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
        assert.equal(refreshed.statusCode, 200, refreshed.body);
        const next = await jwtVerify(refreshed.json().accessToken, createLocalJWKSet(jwks), {
          issuer,
          audience,
          algorithms: [signingAlgorithm],
          typ: 'at+jwt',
          currentDate: new Date(t.clock.now()),
        });
        assert.equal(next.payload.sid, s.session.id);
        assert.notEqual(next.payload.jti, payload.jti);
      } finally {
        await t.close();
      }
    });

    test('jose refuses the token for another audience or issuer, and after its expiry', async () => {
      const t = await testApp({ signingAlgorithm });
      try {
        const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
        const s = await t.signUp();
        const keys = createLocalJWKSet(jwks);
        const now = new Date(t.clock.now());
        await assert.rejects(jwtVerify(s.accessToken, keys, { issuer, audience: 'other-api', currentDate: now }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
        await assert.rejects(jwtVerify(s.accessToken, keys, { issuer: 'https://evil.example', audience, currentDate: now }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
        await assert.rejects(jwtVerify(s.accessToken, keys, { issuer, audience, currentDate: new Date(t.clock.now() + 901_000) }), { code: 'ERR_JWT_EXPIRED' });
      } finally {
        await t.close();
      }
    });
  });
}
