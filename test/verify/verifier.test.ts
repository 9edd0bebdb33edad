import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.ts';
import { createVerifier, InvalidTokenError, SessionRevokedError, TokenVerificationError, VerifierUnavailableError } from '../../src/verify/index.ts';
import { bearer, issuer } from '../helpers.ts';
import { client, eventually, listeningApp, outcome, verifierFor } from './verify-helpers.ts';

const base = { issuer, audience: 'tokenstile', algorithms: ['ES256'] as const, jwksUrl: 'http://127.0.0.1:1/jwks', revocations: false as const };

describe('createVerifier checks its options at construction', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no issuer', { issuer: undefined }, /issuer is required/],
    ['a relative issuer', { issuer: 'auth.example.com' }, /issuer must be an absolute URL/],
    ['no audience', { audience: '' }, /audience is required/],
    ['no algorithms', { algorithms: undefined }, /algorithms is required/],
    ['alg none', { algorithms: ['none'] }, /algorithms may contain ES256, EdDSA, RS256/],
    ['both key sources', { keys: { keys: [] } }, /exactly one of jwksUrl/],
    ['no key source', { jwksUrl: undefined }, /exactly one of jwksUrl/],
    ['revocations left out', { revocations: undefined }, /revocations is required/],
    ['revocations without a secret', { revocations: { clientId: 'x' } }, /clientSecret is required/],
    ['a bad onStale', { revocations: { ...client, onStale: 'ignore' } }, /onStale must be/],
    ['a staleness bound under 1 s', { revocations: { ...client, staleAfter: '100ms' } }, /staleAfter must be between/],
  ];
  for (const [name, patch, message] of cases) {
    test(`refuses ${name}`, () => {
      assert.throws(() => createVerifier({ ...base, ...patch } as never), (err: unknown) => err instanceof ConfigError && message.test((err as Error).message));
    });
  }
});

describe('verify against a running auth server', () => {
  test('a fresh token verifies; after logout on the server the verifier refuses it with session_revoked', async () => {
    const t = await listeningApp();
    const v = verifierFor(t);
    try {
      await v.ready();
      const s = await t.signUp();
      // A verifier whose stream stalled past staleAfter (2 s here) answers service_unavailable, as it
      // must; on a busy machine that happens, so each answer is waited for, any other answer failing.
      let claims: Awaited<ReturnType<typeof v.verify>> | undefined;
      await eventually(async () => {
        try {
          claims = await v.verify(s.accessToken);
          return true;
        } catch (err) {
          if (err instanceof VerifierUnavailableError) return false;
          throw err;
        }
      }, 15_000, 'a current verifier');
      assert.equal(claims?.sub, s.user.id);
      assert.equal(claims?.sid, s.session.id);
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) })).statusCode, 204);
      await eventually(async () => {
        try {
          await v.verify(s.accessToken);
          return false;
        } catch (err) {
          if (err instanceof VerifierUnavailableError) return false;
          assert.ok(err instanceof SessionRevokedError && err instanceof TokenVerificationError, `refused with ${String(err)}`);
          return true;
        }
      }, 15_000, 'refusal after logout');
    } finally {
      v.close();
      await t.close();
    }
  });

  test('revocations made before the verifier connected arrive in the snapshot', async () => {
    const t = await listeningApp();
    const s = await t.signUp();
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) });
    const v = verifierFor(t);
    try {
      await v.ready();
      assert.equal(await outcome(v.verify(s.accessToken)), 'session_revoked');
    } finally {
      v.close();
      await t.close();
    }
  });

  test('forged, wrong-audience, wrong-algorithm and expired tokens are refused with their codes', async () => {
    const t = await listeningApp();
    const v = verifierFor(t);
    const otherAudience = verifierFor(t, { audience: 'billing' });
    const rsaOnly = verifierFor(t, { algorithms: ['RS256'] });
    try {
      await v.ready();
      const s = await t.signUp();
      assert.equal(await outcome(v.verify(`${s.accessToken.slice(0, -3)}AAA`)), 'invalid_token');
      assert.equal(await outcome(v.verify('not a token')), 'invalid_token');
      assert.equal(await outcome(v.verify('')), 'invalid_token');
      assert.equal(await outcome(otherAudience.verify(s.accessToken)), 'invalid_token');
      assert.equal(await outcome(rsaOnly.verify(s.accessToken)), 'invalid_token', 'the algorithm comes from configuration, not the token');
      t.clock.advance(16 * 60_000);
      assert.equal(await outcome(v.verify(s.accessToken)), 'token_expired');
    } finally {
      v.close();
      otherAudience.close();
      rsaOnly.close();
      await t.close();
    }
  });

  test('with a silent stream past the staleness bound it refuses with service_unavailable; introspection is the opt-in fallback', async () => {
    const t = await listeningApp();
    // A stream URL that never answers: the verifier never gets a snapshot, so it is never fresh.
    const hang = (async () => new Promise<Response>(() => {})) as typeof fetch;
    const realFetch = globalThis.fetch;
    const routed: typeof fetch = (input, init) => (String(input).includes('/revocations/stream') ? hang(input, init) : realFetch(input, init));
    const refusing = verifierFor(t, { fetch: routed });
    const introspecting = verifierFor(t, { fetch: routed, revocations: { ...client, url: `${t.url}/revocations/stream`, introspectionUrl: `${t.url}/oauth/introspect`, onStale: 'introspect' } });
    try {
      const s = await t.signUp();
      await assert.rejects(refusing.verify(s.accessToken), (err: unknown) => err instanceof VerifierUnavailableError && (err as VerifierUnavailableError).code === 'service_unavailable');
      assert.equal(refusing.fresh, false);
      assert.equal((await introspecting.verify(s.accessToken)).sid, s.session.id);
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) });
      assert.equal(await outcome(introspecting.verify(s.accessToken)), 'session_revoked');
    } finally {
      refusing.close();
      introspecting.close();
      await t.close();
    }
  });

  test('a wrong client secret never makes the list fresh', async () => {
    const t = await listeningApp();
    const events: string[] = [];
    const v = verifierFor(t, { revocations: { clientId: client.clientId, clientSecret: 'not-the-secret-0000000', url: `${t.url}/revocations/stream` }, onEvent: (e) => events.push(e.type === 'stream_error' ? e.message : e.type) });
    try {
      await eventually(() => events.some((e) => e.includes('401')), 5000, 'a 401 report');
      assert.equal(v.fresh, false);
      const s = await t.signUp();
      assert.equal(await outcome(v.verify(s.accessToken)), 'service_unavailable');
    } finally {
      v.close();
      await t.close();
    }
  });
});

describe('JWKS cache', () => {
  test('an unknown kid triggers at most one refetch per cooldown; the known keys are reused', async () => {
    const t = await listeningApp();
    let fetches = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/jwks.json')) fetches += 1;
      return fetch(input, init);
    };
    const v = verifierFor(t, { fetch: counting, revocations: false, jwksCooldown: '30s' });
    try {
      const s = await t.signUp();
      await v.verify(s.accessToken);
      await v.verify(s.accessToken);
      assert.equal(fetches, 1);
      const [h, p, sig] = s.accessToken.split('.');
      const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
      const unknown = `${Buffer.from(JSON.stringify({ ...header, kid: 'unknown-kid' })).toString('base64url')}.${p}.${sig}`;
      for (let i = 0; i < 5; i++) await assert.rejects(v.verify(unknown), InvalidTokenError);
      assert.equal(fetches, 2, 'one refetch for the unknown kid, then the cooldown holds');
      t.clock.advance(31_000);
      await assert.rejects(v.verify(unknown), InvalidTokenError);
      assert.equal(fetches, 3, 'after the cooldown, one more');
    } finally {
      v.close();
      await t.close();
    }
  });

  test('no reachable JWKS means service_unavailable, not invalid_token', async () => {
    const v = createVerifier({ ...base, jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json' });
    try {
      assert.equal(await outcome(v.verify('a.b.c')), 'service_unavailable');
    } finally {
      v.close();
    }
  });

  test('a fixed key set verifies without any fetch', async () => {
    const t = await listeningApp();
    const jwks = t.app.tokenstile.jwks();
    const v = createVerifier({ issuer, audience: 'tokenstile', algorithms: ['ES256'], keys: jwks, revocations: false, now: () => t.clock.now(), fetch: (() => assert.fail('no fetch')) as never });
    try {
      const s = await t.signUp();
      assert.equal((await v.verify(s.accessToken)).sub, s.user.id);
    } finally {
      v.close();
      await t.close();
    }
  });
});

describe('introspection fallback failures', () => {
  test('a stale list and an unreachable introspection endpoint mean service_unavailable, with the cause kept', async () => {
    const t = await listeningApp();
    const failing: typeof fetch = (input, init) =>
      String(input).includes('/revocations/stream') ? new Promise(() => {}) : String(input).includes('/oauth/introspect') ? Promise.reject(new Error('connection refused')) : fetch(input, init);
    const v = verifierFor(t, { fetch: failing, revocations: { ...client, url: `${t.url}/revocations/stream`, introspectionUrl: `${t.url}/oauth/introspect`, onStale: 'introspect' } });
    try {
      const s = await t.signUp();
      await assert.rejects(v.verify(s.accessToken), (err: unknown) => err instanceof VerifierUnavailableError && (err.cause as Error).message === 'connection refused');
    } finally {
      v.close();
      await t.close();
    }
  });
});
