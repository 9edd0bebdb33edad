// Shared Signals receiver, push delivery (RFC 8935): a jose-written transmitter posts signed SETs
// to POST /ssf/receivers/:id/events of one instance; the sessions they name are refused by both
// instances as soon as the 202 is answered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from 'jose';
import { goodPassword, issuer, type TokenBody } from '../../helpers.ts';
import { crossInstanceAtOnce } from './receiver-fixture.ts';
import { expectProblem } from '../../http/problem-assertions.ts';
import { meStatus, pushSecret, receiverFixture, signInAgain, type ReceiverFixture } from './receiver-fixture.ts';
import { credentialChange, sessionRevoked, until, type SetOptions } from './test-transmitter.ts';

let f: ReceiverFixture;

before(async () => {
  f = await receiverFixture((t) => [
    // Its keys are found through its metadata (no jwksUri).
    { id: 'upstream', issuer: t.issuer, delivery: { method: 'push', secret: pushSecret } },
    { id: 'changes', issuer: t.issuer, events: ['session-revoked', 'credential-change'], subjects: ['iss_sub'], delivery: { method: 'push', secret: pushSecret } },
    // Its metadata is read at its first SET (the transmitter is down then).
    { id: 'later', issuer: t.issuer, delivery: { method: 'push', secret: pushSecret } },
    { id: 'nokeys', issuer: t.issuer, jwksUri: 'http://127.0.0.1:1/jwks', delivery: { method: 'push', secret: pushSecret } },
  ]);
});
after(() => f?.close());

const contentType = { 'content-type': 'application/secevent+jwt' };

async function push(token: string, headers: Record<string, string> = {}, id = 'upstream') {
  return f.a.app.inject({ method: 'POST', url: `/ssf/receivers/${id}/events`, headers: { authorization: `Bearer ${pushSecret}`, ...contentType, ...headers }, payload: token });
}

async function pushSet(options: SetOptions, id = 'upstream') {
  const { token } = await f.transmitter.sign(options);
  return push(token, {}, id);
}

/** Asserts the RFC 8935 error answer: `status`, JSON `{err, description}`. */
function expectSetError(res: Awaited<ReturnType<typeof push>>, status: number, err: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { err: string; description: string };
  assert.equal(body.err, err);
  assert.equal(typeof body.description, 'string');
  assert.ok(!res.body.includes(pushSecret));
}

/**
 * Both instances refuse (401) or accept (200) the session's access token. Instance b refuses at
 * once where revocations are acknowledged across instances (a feed: Redis) or read per request
 * (strict mode); on one SQLite file without a feed it learns at its next store poll.
 */
async function expectEverywhere(s: TokenBody, status: 200 | 401): Promise<void> {
  assert.equal(await meStatus(f.a, s), status, 'instance a');
  if (status === 200 || crossInstanceAtOnce) assert.equal(await meStatus(f.b, s), status, 'instance b');
  else await until(async () => (await meStatus(f.b, s)) === status, 'instance b refuses the token');
}

describe('a session-revoked SET ends the matching sessions before the 202', () => {
  test('by email: every session of that user (normalized like sign-in), refused on every instance; another user keeps theirs', async () => {
    const s1 = await f.a.signUp();
    const s2 = await signInAgain(f.b, s1, goodPassword);
    const other = await f.a.signUp();
    await expectEverywhere(s1, 200);
    const res = await pushSet({ subId: { format: 'email', email: s1.user.email.toUpperCase() } });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.body, '');
    await expectEverywhere(s1, 401);
    await expectEverywhere(s2, 401);
    await expectEverywhere(other, 200);
  });

  test('by iss_sub with our issuer: sub is our user id', async () => {
    const s = await f.a.signUp();
    const res = await pushSet({ subId: { format: 'iss_sub', iss: issuer, sub: s.user.id } });
    assert.equal(res.statusCode, 202, res.body);
    await expectEverywhere(s, 401);
  });

  test('by complex subject with our session: only that session ends', async () => {
    const s1 = await f.a.signUp();
    const s2 = await signInAgain(f.a, s1, goodPassword);
    const res = await pushSet({ subId: { format: 'complex', user: { format: 'iss_sub', iss: issuer, sub: s1.user.id }, session: { format: 'opaque', id: s1.session.id } } });
    assert.equal(res.statusCode, 202, res.body);
    await expectEverywhere(s1, 401);
    await expectEverywhere(s2, 200);
  });

  test('a complex subject naming another user\'s session ends nothing', async () => {
    const s1 = await f.a.signUp();
    const s2 = await f.a.signUp();
    const res = await pushSet({ subId: { format: 'complex', user: { format: 'iss_sub', iss: issuer, sub: s2.user.id }, session: { format: 'opaque', id: s1.session.id } } });
    assert.equal(res.statusCode, 202, res.body);
    await expectEverywhere(s1, 200);
  });

  test('the subject inside the event (CAEP drafts before SSF 1.0) is read too', async () => {
    const s = await f.a.signUp();
    const res = await pushSet({ events: { [sessionRevoked]: { subject: { format: 'email', email: s.user.email } } } });
    assert.equal(res.statusCode, 202, res.body);
    await expectEverywhere(s, 401);
  });
});

describe('what changes nothing still answers 202', () => {
  test('a replayed SET (same jti) is a no-op: a session started after the first delivery stays', async () => {
    const s1 = await f.a.signUp();
    const { token } = await f.transmitter.sign({ subId: { format: 'email', email: s1.user.email } });
    assert.equal((await push(token)).statusCode, 202);
    await expectEverywhere(s1, 401);
    const later = await signInAgain(f.a, s1, goodPassword);
    const again = await push(token);
    assert.equal(again.statusCode, 202, again.body);
    await expectEverywhere(later, 200);
  });

  test('an unknown subject (email, our issuer\'s unknown sub, a foreign issuer) answers 202 and ends nothing', async () => {
    const s = await f.a.signUp();
    for (const subId of [
      { format: 'email', email: 'nobody-here@example.com' },
      { format: 'iss_sub', iss: issuer, sub: '0190a0a0-0000-7000-8000-000000000000' },
      { format: 'iss_sub', iss: issuer, sub: 'not-a-uuid' },
      { format: 'complex', user: { format: 'iss_sub', iss: issuer, sub: s.user.id }, session: { format: 'opaque', id: 'not-a-session-id' } },
      { format: 'complex', user: { format: 'iss_sub', iss: issuer, sub: 'x'.repeat(1000) }, session: { format: 'opaque', id: '0190a0a0-0000-7000-8000-000000000000' } },
      { format: 'iss_sub', iss: 'https://elsewhere.example', sub: s.user.id },
      { format: 'opaque', id: s.session.id },
      { format: 'phone_number', phone_number: '+12065550100' },
    ]) {
      const res = await pushSet({ subId });
      assert.equal(res.statusCode, 202, `${JSON.stringify(subId)}: ${res.body}`);
    }
    await expectEverywhere(s, 200);
  });

  test('an event the receiver does not act on (a verification event, a disabled credential change) answers 202', async () => {
    const s = await f.a.signUp();
    const verification = await pushSet({ events: { 'https://schemas.openid.net/secevent/ssf/event-type/verification': { state: 'abc' } } });
    assert.equal(verification.statusCode, 202, verification.body);
    const change = await pushSet({ subId: { format: 'email', email: s.user.email }, events: { [credentialChange]: { credential_type: 'password', change_type: 'revoke' } } });
    assert.equal(change.statusCode, 202, change.body);
    await expectEverywhere(s, 200);
  });

  test('with credential-change enabled, a revoked password ends every session of the user; a created one does not', async () => {
    const s = await f.a.signUp();
    const subId = { format: 'iss_sub', iss: issuer, sub: s.user.id };
    const created = await pushSet({ subId, events: { [credentialChange]: { credential_type: 'password', change_type: 'create' } } }, 'changes');
    assert.equal(created.statusCode, 202, created.body);
    await expectEverywhere(s, 200);
    // Subjects are limited to iss_sub on this receiver: an email subject matches nothing.
    const byEmail = await pushSet({ subId: { format: 'email', email: s.user.email } }, 'changes');
    assert.equal(byEmail.statusCode, 202, byEmail.body);
    await expectEverywhere(s, 200);
    const revoked = await pushSet({ subId, events: { [credentialChange]: { credential_type: 'password', change_type: 'revoke' } } }, 'changes');
    assert.equal(revoked.statusCode, 202, revoked.body);
    await expectEverywhere(s, 401);
  });
});

describe('a SET that is not valid is refused (RFC 8935 error JSON) and ends nothing', () => {
  let s: TokenBody;
  let subId: object;
  before(async () => {
    s = await f.a.signUp();
    subId = { format: 'email', email: s.user.email };
  });

  test('signed by another key: 400 invalid_key', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    expectSetError(await pushSet({ subId, key: privateKey }), 400, 'invalid_key');
  });

  test('another issuer: 400 invalid_issuer', async () => {
    expectSetError(await pushSet({ subId, iss: 'https://impostor.example' }), 400, 'invalid_issuer');
  });

  test('another audience: 400 invalid_audience', async () => {
    expectSetError(await pushSet({ subId, aud: 'https://someone-else.example' }), 400, 'invalid_audience');
  });

  test('typ missing or not secevent+jwt (an ID token, a logout token): 400 invalid_request', async () => {
    expectSetError(await pushSet({ subId, typ: null }), 400, 'invalid_request');
    expectSetError(await pushSet({ subId, typ: 'JWT' }), 400, 'invalid_request');
    expectSetError(await pushSet({ subId, typ: 'logout+jwt' }), 400, 'invalid_request');
  });

  test('iat in the future, or older than maxAge: 400 invalid_request', async () => {
    const now = Math.floor(f.a.clock.now() / 1000);
    expectSetError(await pushSet({ subId, iat: now + 3600 }), 400, 'invalid_request');
    expectSetError(await pushSet({ subId, iat: now - 8 * 24 * 3600 }), 400, 'invalid_request');
  });

  test('a session-revoked event without a subject, events missing, or a body that is no JWT: 400 invalid_request', async () => {
    expectSetError(await pushSet({}), 400, 'invalid_request');
    expectSetError(await pushSet({ subId: { format: 'email' } }), 400, 'invalid_request');
    expectSetError(await pushSet({ subId, events: {} }), 400, 'invalid_request');
    expectSetError(await push('not a jwt'), 400, 'invalid_request');
    expectSetError(await push(''), 400, 'invalid_request');
  });

  test('a wrong or missing Authorization: 401 authentication_failed, before the SET is read', async () => {
    const { token } = await f.transmitter.sign({ subId });
    for (const headers of [{ authorization: 'Bearer wrong-secret' }, { authorization: `Basic ${pushSecret}` }, { authorization: '' }]) {
      const res = await push(token, headers);
      expectSetError(res, 401, 'authentication_failed');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
  });

  test('an unknown receiver: 404 unknown_receiver; another media type: 415; a huge body: 413', async () => {
    const { token } = await f.transmitter.sign({ subId });
    expectProblem(await push(token, {}, 'nobody'), 404, 'unknown_receiver');
    expectProblem(await push(token, { 'content-type': 'application/jwt' }), 415, 'unsupported_media_type');
    expectProblem(await push(token, { 'content-type': 'application/json' }), 415, 'unsupported_media_type');
    expectProblem(await push('x'.repeat(64 * 1024)), 413, 'payload_too_large');
  });

  after(async () => {
    await expectEverywhere(s, 200);
  });
});

describe('when the transmitter\'s keys cannot be fetched', () => {
  test('503 service_unavailable (deliver again later), nothing recorded: once they can, the same SET is applied', async () => {
    const s = await f.a.signUp();
    const { token } = await f.transmitter.sign({ subId: { format: 'email', email: s.user.email } });
    const unreachable = await push(token, {}, 'nokeys');
    expectProblem(unreachable, 503, 'service_unavailable');
    f.transmitter.down = true;
    try {
      expectProblem(await push(token, {}, 'later'), 503, 'service_unavailable');
    } finally {
      f.transmitter.down = false;
    }
    await expectEverywhere(s, 200);
    const res = await push(token, {}, 'later');
    assert.equal(res.statusCode, 202, res.body);
    await expectEverywhere(s, 401);
  });
});

describe('observability', () => {
  test('each SET is audited and counted by outcome', async () => {
    const s = await f.a.signUp();
    const { jti, token } = await f.transmitter.sign({ subId: { format: 'email', email: s.user.email } });
    assert.equal((await push(token)).statusCode, 202);
    const metrics = await f.a.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /tokenstile_ssf_received_sets_total\{receiver="upstream",outcome="applied"\} [1-9]/);
    assert.match(metrics.body, /tokenstile_ssf_received_sets_total\{receiver="upstream",outcome="invalid_key"\} [1-9]/);
    assert.match(metrics.body, /tokenstile_ssf_received_sets_total\{receiver="upstream",outcome="authentication_failed"\} [1-9]/);
    // The audit trail is written in the background: wait for the entry.
    await until(async () => {
      const entries = await f.a.app.tokenstile.audit({ limit: 500 });
      return entries.some((e) => e.type === 'ssf-receiver.set_applied' && e.detail.jti === jti && e.detail.receiver === 'upstream');
    }, `an audit entry for ${jti}`);
  });
});
