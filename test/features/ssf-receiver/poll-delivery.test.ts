// Shared Signals receiver, poll delivery (RFC 8936): the receiver polls a jose-written
// transmitter, acknowledges only the SETs it processed (after their sessions ended), returns the
// refused ones as setErrs, and carries on after the transmitter was down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { issuer, type TokenBody } from '../../helpers.ts';
import { crossInstanceAtOnce, meStatus, pushSecret, receiverFixture, type ReceiverFixture } from './receiver-fixture.ts';
import { sessionRevoked, until } from './test-transmitter.ts';

/** Instance a refuses the token; b too, at once where revocations are acknowledged across instances, else soon. */
async function expectRefused(f: ReceiverFixture, s: TokenBody): Promise<void> {
  assert.equal(await meStatus(f.a, s), 401, 'instance a');
  if (crossInstanceAtOnce) assert.equal(await meStatus(f.b, s), 401, 'instance b');
  else await until(async () => (await meStatus(f.b, s)) === 401, 'instance b refuses the token');
}

describe('polling a configured endpoint', () => {
  let f: ReceiverFixture;
  before(async () => {
    f = await receiverFixture((t) => [{ id: 'polled', issuer: t.issuer, delivery: { method: 'poll', endpoint: t.pollUrl, authorization: t.pollAuthorization, maxEvents: 7 } }]);
  });
  after(() => f?.close());

  test('a queued session-revoked SET is processed, then acknowledged: when the ack arrives its sessions are refused', async () => {
    const s = await f.a.signUp();
    const other = await f.a.signUp();
    const { jti, token } = await f.transmitter.sign({ subId: { format: 'email', email: s.user.email } });
    f.transmitter.queue(jti, token);
    await until(() => f.transmitter.acked.has(jti), 'the SET is acknowledged');
    await expectRefused(f, s);
    assert.equal(await meStatus(f.a, other), 200);
    assert.ok(!f.transmitter.refused.has(jti));
    // Every poll carried the configured authorization and maxEvents, and asked for a long poll.
    assert.ok(f.transmitter.polls.length > 0);
    for (const p of f.transmitter.polls.filter((p) => p.returnImmediately === false)) {
      assert.equal(p.authorization, f.transmitter.pollAuthorization);
      assert.equal(p.maxEvents, 7);
    }
  });

  test('a SET that is not valid comes back in setErrs (never acknowledged); an unknown subject is acknowledged', async () => {
    const s = await f.a.signUp();
    const bad = await f.transmitter.sign({ subId: { format: 'email', email: s.user.email }, aud: 'https://someone-else.example' });
    const unknown = await f.transmitter.sign({ subId: { format: 'email', email: 'nobody-polled@example.com' } });
    f.transmitter.queue(bad.jti, bad.token);
    f.transmitter.queue(unknown.jti, unknown.token);
    await until(() => f.transmitter.refused.has(bad.jti) && f.transmitter.acked.has(unknown.jti), 'setErrs and ack');
    assert.equal(f.transmitter.refused.get(bad.jti)?.err, 'invalid_audience');
    assert.ok(!f.transmitter.acked.has(bad.jti));
    assert.equal(await meStatus(f.a, s), 200);
  });

  test('the transmitter down: the receiver backs off and, once it is back, processes and acknowledges what was queued', async () => {
    const s = await f.a.signUp();
    f.transmitter.down = true;
    const hits = f.transmitter.downHits;
    await until(() => f.transmitter.downHits > hits, 'a poll while the transmitter is down');
    const { jti, token } = await f.transmitter.sign({ subId: { format: 'iss_sub', iss: issuer, sub: s.user.id } });
    f.transmitter.queue(jti, token);
    assert.equal(await meStatus(f.a, s), 200);
    f.transmitter.down = false;
    await until(() => f.transmitter.acked.has(jti), 'the SET is acknowledged after the outage', 90_000);
    await expectRefused(f, s);
  });

  test('a SET delivered again after its ack was lost is acknowledged again and changes nothing', async () => {
    const s = await f.a.signUp();
    const { jti, token } = await f.transmitter.sign({ subId: { format: 'email', email: s.user.email } });
    f.transmitter.queue(jti, token);
    await until(() => f.transmitter.acked.has(jti), 'the first delivery is acknowledged');
    f.transmitter.acked.delete(jti);
    f.transmitter.queue(jti, token);
    await until(() => f.transmitter.acked.has(jti), 'the second delivery is acknowledged');
    assert.deepEqual(f.transmitter.pending(), []);
  });
});

describe('streams registered at the transmitter (createStream)', () => {
  let f: ReceiverFixture;
  before(async () => {
    f = await receiverFixture((t) => [
      { id: 'created-poll', issuer: t.issuer, delivery: { method: 'poll', authorization: t.pollAuthorization }, createStream: { authorization: t.configurationAuthorization, description: 'Tokenstile test' } },
      { id: 'created-push', issuer: t.issuer, delivery: { method: 'push', secret: pushSecret }, createStream: { authorization: t.configurationAuthorization } },
    ]);
  });
  after(() => f?.close());

  test('a poll stream is registered from the metadata\'s configuration_endpoint, and its endpoint is polled', async () => {
    const s = await f.a.signUp();
    await until(() => f.transmitter.streamsCreated.some((b) => (b.delivery as { method: string }).method === 'urn:ietf:rfc:8936'), 'a poll stream is created');
    const created = f.transmitter.streamsCreated.find((b) => (b.delivery as { method: string }).method === 'urn:ietf:rfc:8936')!;
    assert.deepEqual(created.events_requested, [sessionRevoked]);
    assert.equal(created.description, 'Tokenstile test');
    const { jti, token } = await f.transmitter.sign({ subId: { format: 'email', email: s.user.email } });
    f.transmitter.queue(jti, token);
    await until(() => f.transmitter.acked.has(jti), 'the SET is acknowledged');
    await expectRefused(f, s);
  });

  test('a push stream is registered with our endpoint and the bearer secret', async () => {
    await until(() => f.transmitter.streamsCreated.some((b) => (b.delivery as { method: string }).method === 'urn:ietf:rfc:8935'), 'a push stream is created');
    const created = f.transmitter.streamsCreated.find((b) => (b.delivery as { method: string }).method === 'urn:ietf:rfc:8935')!;
    assert.deepEqual(created.delivery, { method: 'urn:ietf:rfc:8935', endpoint_url: `${issuer}/ssf/receivers/created-push/events`, authorization_header: `Bearer ${pushSecret}` });
  });
});
