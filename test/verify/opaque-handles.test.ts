import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { handleSessionId } from '../../src/verify/introspection.ts';
import { bearer } from '../helpers.ts';
import type { Verifier } from '../../src/verify/index.ts';
import { eventually, listeningApp, outcome, verifierFor, type ListeningApp } from './verify-helpers.ts';

/*
 * A resource server facing an auth server in opaque mode: handles are introspected, an active
 * answer is reused only while the revocation stream is current, and a logout refuses at once.
 */

/** Counts the verifier's introspection calls. */
function countingFetch(): { fetch: typeof fetch; readonly calls: number } {
  const counter = { calls: 0, fetch: (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    if (String(input).endsWith('/oauth/introspect')) counter.calls += 1;
    return fetch(input, init);
  }) as typeof fetch };
  return counter;
}

/** An auth server in opaque mode, and a ready verifier of it whose introspection calls are counted. */
async function withOpaqueServer(fn: (t: ListeningApp, v: Verifier, counter: { readonly calls: number }) => Promise<void>): Promise<void> {
  const t = await listeningApp({ accessTokenFormat: 'opaque', revocationCheck: 'pushed' });
  const counter = countingFetch();
  const v = verifierFor(t, { fetch: counter.fetch });
  try {
    await v.ready();
    await fn(t, v, counter);
  } finally {
    v.close();
    await t.close();
  }
}

describe('the verify SDK with opaque access handles', () => {
  test('a handle is introspected once, then served from the cache; its claims are the session\'s', () =>
    withOpaqueServer(async (t, v, counter) => {
      const s = await t.signUp();
      const claims = await v.verify(s.accessToken);
      assert.equal(claims.sub, s.user.id);
      assert.equal(claims.sid, s.session.id);
      assert.equal(claims.aud, 'tokenstile');
      await v.verify(s.accessToken);
      await v.verify(s.accessToken);
      assert.equal(counter.calls, 1);
    }));

  test('after a logout the cached handle is refused with session_revoked, without asking again', () =>
    withOpaqueServer(async (t, v, counter) => {
      const s = await t.signUp();
      await v.verify(s.accessToken);
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) })).statusCode, 204);
      await eventually(async () => (await outcome(v.verify(s.accessToken))) === 'session_revoked', 5000, 'refusal after logout');
      assert.equal(counter.calls, 1);
    }));

  test('a handle replaced by a refresh is token_expired once its cached answer ends; garbage is invalid_token', () =>
    withOpaqueServer(async (t, v) => {
      const s = await t.signUp();
      const next = (await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } })).json();
      assert.equal(await outcome(v.verify(s.accessToken)), 'token_expired');
      assert.equal((await v.verify(next.accessToken)).sid, s.session.id);
      assert.equal(await outcome(v.verify(`tsa_${'A'.repeat(108)}`)), 'invalid_token');
      assert.equal(await outcome(v.verify('tsa_short')), 'invalid_token');
    }));
});

test('handleSessionId reads the session id of a well-formed handle and nothing else', async () => {
  await withOpaqueServer(async (t) => {
    const s = await t.signUp();
    assert.equal(handleSessionId(s.accessToken), s.session.id);
    assert.equal(handleSessionId(`${s.accessToken}A`), null);
    assert.equal(handleSessionId(s.accessToken.replace(/^tsa_/, 'tsr_')), null);
  });
});
