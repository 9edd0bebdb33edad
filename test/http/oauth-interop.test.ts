// Independent clients from npm against our endpoints: jose fetches the JWKS itself, and
// openid-client discovers the server (RFC 8414) and uses introspection and revocation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { freePort } from '../scale/harness.ts';
import { bearer, testApp, type TestApp } from '../helpers.ts';

const client = { id: 'orders-api', secret: 'orders-secret-0123456789' };

/** An app whose issuer is its own listening URL, as discovery requires. */
async function servedApp(): Promise<TestApp & { issuer: string }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const t = await testApp({ issuer, clients: `${client.id}:${client.secret}` });
  await t.app.listen({ host: '127.0.0.1', port });
  return Object.assign(t, { issuer });
}

describe('independent clients', () => {
  test('jose createRemoteJWKSet verifies our access tokens from the published JWKS', async () => {
    const t = await servedApp();
    try {
      const s = await t.signUp();
      const jwks = createRemoteJWKSet(new URL(`${t.issuer}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(s.accessToken, jwks, { issuer: t.issuer, audience: 'tokenstile', algorithms: ['ES256'], typ: 'at+jwt' });
      assert.equal(payload.sub, s.user.id);
      assert.equal(payload.sid, s.session.id);
      assert.equal(protectedHeader.alg, 'ES256');
    } finally {
      await t.close();
    }
  });

  test('with the publish-ahead delay, a jose key set cached before the switch verifies tokens of the new key without refetching', async () => {
    const t = await servedApp();
    try {
      await t.app.tokenstile.rotateKeys({ publishAheadMs: 60_000 });
      let fetches = 0;
      const counting = (url: string, options: RequestInit) => {
        fetches += 1;
        return fetch(url, options);
      };
      // A verifier that (re)fetched the JWKS during the publish-ahead window, jose's defaults otherwise.
      const jwks = createRemoteJWKSet(new URL(`${t.issuer}/.well-known/jwks.json`), { [customFetch]: counting });
      const during = await t.signUp();
      await jwtVerify(during.accessToken, jwks, { issuer: t.issuer, audience: 'tokenstile', algorithms: ['ES256'] });
      assert.equal(fetches, 1);
      t.clock.advance(61_000);
      await t.app.tokenstile.reloadKeys();
      const after = await t.signUp();
      const verified = await jwtVerify(after.accessToken, jwks, { issuer: t.issuer, audience: 'tokenstile', algorithms: ['ES256'], currentDate: new Date(t.clock.now()) });
      assert.notEqual(verified.protectedHeader.kid, decodeProtectedHeader(during.accessToken).kid, 'signed by the new key');
      assert.equal(fetches, 1, 'the new key was already in the cached set');
    } finally {
      await t.close();
    }
  });

  for (const auth of ['client_secret_basic', 'client_secret_post'] as const) {
    test(`openid-client discovers the server and introspects and revokes tokens (${auth})`, async () => {
      const t = await servedApp();
      try {
        const config = await oidc.discovery(
          new URL(t.issuer),
          client.id,
          undefined,
          auth === 'client_secret_basic' ? oidc.ClientSecretBasic(client.secret) : oidc.ClientSecretPost(client.secret),
          // Plain http on loopback in tests; openid-client's documented switch for it.
          { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] },
        );
        const metadata = config.serverMetadata();
        assert.equal(metadata.issuer, t.issuer);
        assert.equal(metadata.introspection_endpoint, `${t.issuer}/oauth/introspect`);
        assert.equal(metadata.revocation_endpoint, `${t.issuer}/oauth/revoke`);

        const s = await t.signUp();
        const active = await oidc.tokenIntrospection(config, s.accessToken);
        assert.equal(active.active, true);
        assert.equal(active.sub, s.user.id);
        assert.equal(active.token_type, 'Bearer');

        const refresh = await oidc.tokenIntrospection(config, s.refreshToken, { token_type_hint: 'refresh_token' });
        assert.equal(refresh.active, true);

        await oidc.tokenRevocation(config, s.refreshToken, { token_type_hint: 'refresh_token' });
        assert.deepEqual({ ...(await oidc.tokenIntrospection(config, s.accessToken)) }, { active: false });
        const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) });
        assert.equal(me.json().code, 'session_revoked');
        // Revoking again, or a token we never issued, is not an error (RFC 7009 §2.2).
        await oidc.tokenRevocation(config, s.refreshToken);
        await oidc.tokenRevocation(config, 'never-issued');
      } finally {
        await t.close();
      }
    });
  }

  test('openid-client reports a wrong client secret as invalid_client', async () => {
    const t = await servedApp();
    try {
      const config = await oidc.discovery(new URL(t.issuer), client.id, undefined, oidc.ClientSecretBasic('wrong-secret-0123456789'), { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] });
      // RFC 6749 §5.2: 401 with a Basic challenge, which openid-client surfaces as such.
      await assert.rejects(oidc.tokenIntrospection(config, 'x'), (err: unknown) => {
        assert.ok(err instanceof oidc.WWWAuthenticateChallengeError);
        assert.equal(err.status, 401);
        assert.equal(err.cause[0]?.scheme, 'basic');
        return true;
      });
      // A 400 comes back as an OAuth error body openid-client parses (application/json, as it asks).
      const bad = await t.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=a&token=b' });
      assert.equal(bad.statusCode, 400);
      assert.match(String(bad.headers['content-type']), /^application\/json/);
      assert.equal(bad.json().error, 'invalid_request');
      assert.equal(bad.json().code, 'invalid_request');
    } finally {
      await t.close();
    }
  });
});
