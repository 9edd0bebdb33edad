import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expressAuth } from '../../src/verify/express.ts';
import { honoAuth } from '../../src/verify/hono.ts';
import { bearer } from '../helpers.ts';
import { adapters, eventually, listeningApp, verifierFor } from './verify-helpers.ts';

for (const [name, mount] of Object.entries(adapters)) {
  describe(`${name} adapter`, () => {
    test('lets a valid token through with typed auth; 401 with RFC 6750 challenges and problem+json otherwise', async () => {
      const t = await listeningApp();
      const v = verifierFor(t);
      const server = await mount(v);
      try {
        await v.ready();
        const s = await t.signUp();
        const ok = await server.get(bearer(s.accessToken));
        assert.equal(ok.status, 200);
        assert.deepEqual(await ok.json(), { userId: s.user.id, sessionId: s.session.id });

        const missing = await server.get({});
        assert.equal(missing.status, 401);
        // Both schemes are accepted, so both are challenged for (RFC 9449 §7.1), as the auth server does.
        assert.match(String(missing.headers.get('www-authenticate')), /^Bearer realm="tokenstile", DPoP algs="[^"]*ES256[^"]*"$/);
        assert.match(String(missing.headers.get('content-type')), /^application\/problem\+json/);
        assert.equal(((await missing.json()) as { code: string }).code, 'invalid_token');

        const forged = await server.get(bearer(`${s.accessToken}x`));
        assert.equal(forged.status, 401);
        assert.match(String(forged.headers.get('www-authenticate')), /error="invalid_token"/);

        await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) });
        await eventually(async () => (await server.get(bearer(s.accessToken))).status === 401, 5000, 'refusal after logout');
        const revoked = await server.get(bearer(s.accessToken));
        const body = (await revoked.json()) as { code: string; status: number };
        assert.equal(body.code, 'session_revoked');
        assert.equal(body.status, 401);
        assert.match(String(revoked.headers.get('www-authenticate')), /^Bearer realm="tokenstile", error="invalid_token"/);
      } finally {
        await server.close();
        v.close();
        await t.close();
      }
    });
  });
}

test('adapters refuse to be built without a verifier', () => {
  assert.throws(() => expressAuth(undefined as never), /createVerifier/);
  assert.throws(() => honoAuth({} as never), /createVerifier/);
});
