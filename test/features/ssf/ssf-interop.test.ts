// Tokenstile's transmitter feeding Tokenstile's receiver (another implementation, in
// src/features/ssf-receiver): each SET a logout sends is accepted there (202), checked against
// the transmitter's metadata and JWKS, and audited.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, testApp, type TestApp } from '../../helpers.ts';
import { freePort } from '../../scale/harness.ts';
import { clients, createStream } from './ssf-test-kit.ts';

const secret = 'upstream-a-push-secret-0123456789abcdef';

describe('SSF transmitter to the Tokenstile receiver', () => {
  let a: TestApp;
  let b: TestApp;
  let bUrl: string;
  before(async () => {
    const port = await freePort();
    const issuerA = `http://127.0.0.1:${port}`;
    a = await testApp({ issuer: issuerA, clients, sharedSignals: { enabled: true, retryDelay: '50ms', outboxPollInterval: '50ms' } });
    await a.app.listen({ host: '127.0.0.1', port });
    b = await testApp({ issuer: 'http://127.0.0.1:3001', sharedSignalsReceivers: [{ id: 'upstream-a', issuer: issuerA, audience: 'tokenstile-b', delivery: { method: 'push', secret } }] });
    bUrl = await b.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  test('a session-revoked SET is accepted (verified with our JWKS) and audited by the receiver', async () => {
    await createStream(a, { aud: 'tokenstile-b', delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${bUrl}/ssf/receivers/upstream-a/events`, authorization_header: `Bearer ${secret}` } });
    const s = await a.signUp();
    await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const entries = (await b.app.tokenstile.audit({ limit: 1000 })).filter((e) => e.type.startsWith('ssf-receiver.'));
      const refused = entries.filter((e) => e.type === 'ssf-receiver.set_refused');
      assert.deepEqual(refused, [], 'no SET refused');
      if (entries.some((e) => e.type === 'ssf-receiver.set_ignored' || e.type === 'ssf-receiver.set_applied')) break;
      assert.ok(Date.now() < deadline, 'the receiver processed the SET');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Delivered: nothing left to push at the transmitter.
    const metrics = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /tokenstile_ssf_sent_sets_total\{outcome="delivered"\} [1-9]/);
  });
});
