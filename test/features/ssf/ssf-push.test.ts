// Push delivery (RFC 8935) of CAEP session-revoked and credential-change SETs to a receiver written
// with node:http and jose, for every revocation path; over every adapter and backend.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, goodPassword, issuer, uniqueEmail, type TokenBody } from '../../helpers.ts';
import { del, enrolTotp, post } from '../mfa/mfa-test-kit.ts';
import { SoftAuthenticator } from '../passkeys/soft-authenticator.ts';
import { tokenFromMail } from '../recovery/recovery-helpers.ts';
import { caep, PushReceiver, ssfEvent, type ReceivedSet } from './ssf-receivers.ts';
import { call, createStream, credentialChanges, receiver, revokedSessions, ssfApp, type SsfApp } from './ssf-test-kit.ts';

const push = 'urn:ietf:rfc:8935';
const audience = 'https://risk.example';
const clientForm = { id: 'orders-api', secret: 'orders-secret-0123456789' };

let t: SsfApp;
let rx: PushReceiver;
let streamId: string;
before(async () => {
  t = await ssfApp({}, { clients: `risk-engine:risk-engine-secret-0123456789,${clientForm.id}:${clientForm.secret}` });
  rx = await new PushReceiver().start(t.url, issuer, audience);
  const s = await createStream(t, {
    aud: audience,
    events_requested: [`${caep}session-revoked`, `${caep}credential-change`],
    delivery: { method: push, endpoint_url: rx.url, authorization_header: 'Bearer receiver-inbound-secret' },
  });
  streamId = s.stream_id;
});
after(async () => {
  await t.close();
  await rx.close();
});

const login = async (email: string, password = goodPassword) => {
  const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as TokenBody;
};

/** Waits for the session-revoked SET of each session; checks its subject and initiator. */
async function expectRevoked(user: TokenBody['user'], sessionIds: readonly string[], initiator: string): Promise<ReceivedSet[]> {
  await rx.until((r) => sessionIds.every((id) => revokedSessions(r, id).length > 0), 20_000, `session-revoked for ${sessionIds.length} session(s)`);
  return sessionIds.map((id) => {
    const [set, ...more] = revokedSessions(rx.received, id);
    assert.equal(more.length, 0, 'one SET per ended session');
    assert.deepEqual(set!.claims.sub_id.user, { format: 'iss_sub', iss: issuer, sub: user.id });
    assert.deepEqual(set!.claims.sub_id.session, { format: 'opaque', id });
    assert.equal(set!.event.initiating_entity, initiator);
    assert.equal(set!.claims.aud, audience);
    return set!;
  });
}

describe('SSF push delivery: session-revoked for every revocation path', () => {
  test('the receiver authenticates the push with its authorization_header; a verification SET carries the state', async () => {
    assert.equal((await call(t, 'POST', '/ssf/verify', { stream_id: streamId, state: 'state-123' })).statusCode, 204);
    await rx.until((r) => r.some((s) => s.type === `${ssfEvent}verification` && s.event.state === 'state-123'));
    const v = rx.received.find((s) => s.event.state === 'state-123')!;
    assert.deepEqual(v.claims.sub_id, { format: 'opaque', id: streamId });
    assert.ok(rx.authorizations.every((a) => a === 'Bearer receiver-inbound-secret'));
  });

  test('logout (local): the SET is stored when logout answers and reaches the receiver', async () => {
    const s = await t.signUp();
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} })).statusCode, 204);
    const [set] = await expectRevoked(s.user, [s.session.id], 'user');
    assert.match(set!.event.reason_admin.en, /signed out/);
  });

  test('logout global and others: one SET per ended session, sharing a txn', async () => {
    const email = uniqueEmail();
    const a = await t.signUp(email);
    const b = await login(email);
    const c = await login(email);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(c.accessToken), payload: { scope: 'others' } });
    const [sa, sb] = await expectRevoked(a.user, [a.session.id, b.session.id], 'user');
    assert.equal(sa!.claims.txn, sb!.claims.txn);
    assert.equal(revokedSessions(rx.received, c.session.id).length, 0);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(c.accessToken), payload: { scope: 'global' } });
    await expectRevoked(a.user, [c.session.id], 'user');
  });

  test('a session ended by its owner (DELETE /auth/sessions/:id)', async () => {
    const email = uniqueEmail();
    const a = await t.signUp(email);
    const b = await login(email);
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${b.session.id}`, headers: bearer(a.accessToken) })).statusCode, 204);
    await expectRevoked(a.user, [b.session.id], 'user');
  });

  test('password change ends the other sessions, and sends a credential-change', async () => {
    const email = uniqueEmail();
    const a = await t.signUp(email);
    const b = await login(email);
    const res = await t.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(a.accessToken), payload: { currentPassword: goodPassword, newPassword: 'a brand new lamp 77' } });
    assert.equal(res.statusCode, 204, res.body);
    await expectRevoked(a.user, [b.session.id], 'user');
    await rx.until((r) => credentialChanges(r, a.user.id).length > 0);
    const [change] = credentialChanges(rx.received, a.user.id);
    assert.equal(change!.event.credential_type, 'password');
    assert.equal(change!.event.change_type, 'update');
    assert.deepEqual(change!.claims.sub_id, { format: 'complex', user: { format: 'iss_sub', iss: issuer, sub: a.user.id } });
  });

  test('password reset ends every session', async () => {
    const email = uniqueEmail();
    const a = await t.signUp(email);
    await t.app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email } });
    const token = await tokenFromMail(t.app.tokenstile, email, 'reset');
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, newPassword: 'reset lamp 4 ferns' } })).statusCode, 204);
    await expectRevoked(a.user, [a.session.id], 'user');
    await rx.until((r) => credentialChanges(r, a.user.id).some((c) => c.event.credential_type === 'password'));
  });

  test('refresh-token reuse ends the session (policy)', async () => {
    const a = await t.signUp();
    const first = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: a.refreshToken } });
    assert.equal(first.statusCode, 200);
    await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: (first.json() as TokenBody).refreshToken } });
    const replay = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: a.refreshToken } });
    assert.equal(replay.statusCode, 401);
    await expectRevoked(a.user, [a.session.id], 'policy');
  });

  test('/oauth/revoke (RFC 7009) of a refresh token', async () => {
    const a = await t.signUp();
    const auth = `Basic ${Buffer.from(`${clientForm.id}:${clientForm.secret}`).toString('base64')}`;
    const res = await t.app.inject({ method: 'POST', url: '/oauth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, payload: new URLSearchParams({ token: a.refreshToken }).toString() });
    assert.equal(res.statusCode, 200, res.body);
    await expectRevoked(a.user, [a.session.id], 'user');
  });

  test('an administrator disables the user, or ends their sessions (the CLI\'s path)', async () => {
    const a = await t.signUp();
    assert.equal((await t.app.tokenstile.disableUser(a.user.id)).ok, true);
    await expectRevoked(a.user, [a.session.id], 'admin');
    const b = await t.signUp();
    await t.app.tokenstile.revoke({ userId: b.user.id });
    await expectRevoked(b.user, [b.session.id], 'admin');
  });
});

describe('SSF push delivery: credential-change', () => {
  test('TOTP enabled and disabled, recovery codes renewed', async () => {
    const s = await t.signUp();
    await enrolTotp(t, s);
    await rx.until((r) => credentialChanges(r, s.user.id).some((c) => c.event.credential_type === 'app' && c.event.change_type === 'create'));
    const renewed = await post(t, '/auth/mfa/recovery-codes', {}, s.accessToken);
    assert.equal(renewed.statusCode, 200, renewed.body);
    await rx.until((r) => credentialChanges(r, s.user.id).some((c) => c.event.friendly_name === 'recovery codes' && c.event.change_type === 'update'));
    const off = await del(t, '/auth/mfa/totp', s.accessToken);
    assert.equal(off.statusCode, 204, off.body);
    await rx.until((r) => credentialChanges(r, s.user.id).some((c) => c.event.credential_type === 'app' && c.event.change_type === 'delete'));
  });

  test('a passkey added and removed', async () => {
    const s = await t.signUp();
    const device = new SoftAuthenticator(issuer);
    const options = await post(t, '/auth/passkeys/register/options', {}, s.accessToken);
    assert.equal(options.statusCode, 200, options.body);
    const added = await post(t, '/auth/passkeys/register', { credential: device.register(options.json()) }, s.accessToken);
    assert.equal(added.statusCode, 201, added.body);
    await rx.until((r) => credentialChanges(r, s.user.id).some((c) => c.event.credential_type === 'fido2-platform' && c.event.change_type === 'create'));
    const id = (added.json() as { passkey: { id: string } }).passkey.id;
    const removed = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(s.accessToken) });
    assert.ok([200, 204].includes(removed.statusCode), removed.body);
    await rx.until((r) => credentialChanges(r, s.user.id).some((c) => c.event.change_type === 'delete'));
  });
});

describe('SSF push delivery: retries, subjects, status', () => {
  test('a 500 is retried until 202; nothing is lost and nothing sent again after the 202', async () => {
    rx.failures.push(500, 503);
    const s = await t.signUp();
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} });
    // Retries are due on the server's clock: move it on until the receiver took the SET.
    const deadline = Date.now() + 20_000;
    while (revokedSessions(rx.received, s.session.id).length === 0) {
      assert.ok(Date.now() < deadline, 'retried until 202');
      t.clock.advance(1_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(rx.failures.length, 0, 'both failures were answered first');
    const jti = revokedSessions(rx.received, s.session.id)[0]!.claims.jti;
    const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).jti as string;
    assert.equal(rx.posted.filter((p) => jtiOf(p) === jti).length, 3, 'posted three times: 500, 503, then 202');
    // Another event afterwards; the first SET is not pushed again.
    const other = await t.signUp();
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(other.accessToken), payload: {} });
    await expectRevoked(other.user, [other.session.id], 'user');
    assert.equal(revokedSessions(rx.received, s.session.id).length, 1);
    // The audit trail is written in batches: wait for the two failures to show.
    const failures = async () => (await t.app.tokenstile.audit({ limit: 1000 })).filter((e) => e.type === 'ssf.delivery_failed').length;
    const until = Date.now() + 20_000;
    while ((await failures()) < 2) {
      assert.ok(Date.now() < until, 'failed deliveries are audited');
      await new Promise((r) => setTimeout(r, 50));
    }
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    for (const outcome of ['stored', 'delivered', 'failed']) assert.match(metrics, new RegExp(`tokenstile_ssf_sent_sets_total\\{outcome="${outcome}"\\} [1-9]`), outcome);
    assert.match(metrics, /tokenstile_ssf_delivery_seconds_count [1-9]/);
  });

  test('a SET stored while an earlier one waits for its retry waits behind it: the receiver gets them in order', async () => {
    rx.failures.push(503);
    const posted = rx.posted.length;
    const first = await t.signUp();
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(first.accessToken), payload: {} });
    await rx.until(() => rx.posted.length > posted, 20_000, 'the first (refused) push');
    // The first SET waits for its retry (due on the server's clock, which stands still here).
    const second = await t.signUp();
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(second.accessToken), payload: {} });
    const index = (id: string) => rx.received.findIndex((r) => revokedSessions([r], id).length > 0);
    const deadline = Date.now() + 20_000;
    while (index(first.session.id) === -1 || index(second.session.id) === -1) {
      assert.ok(Date.now() < deadline, 'both delivered');
      t.clock.advance(1_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(index(first.session.id) < index(second.session.id), 'the first SET reached the receiver first');
  });

  test('a receiver that does not answer holds up only its own stream', async () => {
    const slow = await ssfApp({ pushTimeout: '120s', pushLease: '300s' });
    let closing: Promise<void> | null = null;
    const hung: Array<import('node:http').ServerResponse> = [];
    const { createServer } = await import('node:http');
    const silent = createServer((_req, res) => void hung.push(res));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const healthy = await new PushReceiver().start(slow.url, issuer, receiver.id);
    try {
      const port = (silent.address() as import('node:net').AddressInfo).port;
      await createStream(slow, { delivery: { method: push, endpoint_url: `http://127.0.0.1:${port}/` } });
      await createStream(slow, { delivery: { method: push, endpoint_url: healthy.url } });
      const s = await slow.signUp();
      await slow.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} });
      const deadline = Date.now() + 20_000;
      while (hung.length === 0) {
        assert.ok(Date.now() < deadline, 'the silent receiver was pushed to');
        await new Promise((r) => setTimeout(r, 20));
      }
      await healthy.until((r) => revokedSessions(r, s.session.id).length === 1);
      assert.ok(hung.every((res) => !res.writableEnded), 'the other push is still waiting for its answer');
      // Closing does not wait out the silent receiver's 120 s: its push is aborted and given back.
      let timer: NodeJS.Timeout | undefined;
      closing = slow.close();
      const closed = await Promise.race([closing.then(() => 'closed'), new Promise((r) => (timer = setTimeout(r, 60_000, 'still waiting')))]);
      clearTimeout(timer);
      assert.equal(closed, 'closed');
    } finally {
      silent.closeAllConnections();
      silent.close();
      await (closing ?? slow.close());
      await healthy.close();
    }
  });

  test('a removed subject gets nothing; others still do', async () => {
    const rx2 = await new PushReceiver().start(t.url, issuer, receiver.id);
    try {
      const s2 = await createStream(t, { delivery: { method: push, endpoint_url: rx2.url } });
      const excluded = await t.signUp();
      const kept = await t.signUp();
      assert.equal((await call(t, 'POST', '/ssf/subjects/remove', { stream_id: s2.stream_id, subject: { format: 'email', email: excluded.user.email.toUpperCase() } })).statusCode, 204);
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(excluded.accessToken), payload: {} });
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(kept.accessToken), payload: {} });
      // In order on a stream: once the later one arrived, the earlier one would have.
      await rx2.until((r) => revokedSessions(r, kept.session.id).length === 1);
      assert.equal(revokedSessions(rx2.received, excluded.session.id).length, 0);
      await rx.until((r) => revokedSessions(r, excluded.session.id).length === 1, 20_000, 'the first stream still gets it');
      await call(t, 'DELETE', `/ssf/streams?stream_id=${s2.stream_id}`);
    } finally {
      await rx2.close();
    }
  });

  test('a paused stream holds its SETs and delivers them when enabled again, signed with the key that signs then', async () => {
    assert.equal((await call(t, 'POST', '/ssf/status', { stream_id: streamId, status: 'paused' })).statusCode, 200);
    const s = await t.signUp();
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} });
    // A rotation while the SET waits: it is sent signed by the new key, which the JWKS has.
    const rotated = await t.app.tokenstile.rotateKeys({ publishAheadMs: 0, force: true });
    assert.equal((await call(t, 'POST', '/ssf/status', { stream_id: streamId, status: 'enabled' })).statusCode, 200);
    const updates = () => rx.received.filter((r) => r.type === `${ssfEvent}stream-updated`).map((r) => r.event.status);
    const deadline = Date.now() + 20_000;
    while (!(revokedSessions(rx.received, s.session.id).length === 1 && updates().includes('enabled'))) {
      assert.ok(Date.now() < deadline, 'delivered once enabled');
      // A receiver may refuse a first attempt while it fetches the new key: retries are on the server's clock.
      t.clock.advance(1_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(updates().includes('paused'), updates().join());
    const order = rx.received.map((r) => (r.type === `${ssfEvent}stream-updated` ? r.event.status : revokedSessions([r], s.session.id).length > 0 ? 'revoked' : null)).filter((x) => x !== null);
    assert.deepEqual(order.slice(-3), ['paused', 'revoked', 'enabled'], 'held in order');
    assert.equal(revokedSessions(rx.received, s.session.id)[0]!.kid, rotated.kid);
  });
});
