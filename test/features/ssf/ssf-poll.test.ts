// Poll delivery (RFC 8936) to a receiver written with fetch and jose: acknowledgement, long
// polling, maxEvents, setErrs; subject matching by email; over every adapter and backend.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, issuer } from '../../helpers.ts';
import { sharedSignalsOf } from '../../../src/features/ssf/ssf-feature.ts';
import { maxLongPollsPerStream } from '../../../src/features/ssf/ssf-transmitter.ts';
import { caep, PollReceiver } from './ssf-receivers.ts';
import { call, createStream, receiver, revokedSessions, ssfApp, type SsfApp } from './ssf-test-kit.ts';

const poll = 'urn:ietf:rfc:8936';

let t: SsfApp;
before(async () => {
  t = await ssfApp({ defaultSubjects: 'NONE', maxStreamsPerClient: 50 });
});
after(() => t.close());

/** A poll stream with its own receiver; subjects added (`NONE` by default on this server). */
async function pollStream(subjects: object[], config: Record<string, unknown> = {}): Promise<{ id: string; rx: PollReceiver }> {
  const s = await createStream(t, { delivery: { method: poll }, ...config });
  for (const subject of subjects) assert.equal((await call(t, 'POST', '/ssf/subjects/add', { stream_id: s.stream_id, subject })).statusCode, 200);
  const endpoint = `${t.url}/ssf/poll/${encodeURIComponent(s.stream_id)}`;
  assert.equal(s.delivery.endpoint_url, `${issuer}/ssf/poll/${encodeURIComponent(s.stream_id)}`);
  return { id: s.stream_id, rx: new PollReceiver(t.url, endpoint, issuer, receiver.id, receiver) };
}

const logout = (accessToken: string) => t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(accessToken), payload: {} });
const iss_sub = (id: string) => ({ format: 'iss_sub', iss: issuer, sub: id });

describe('SSF poll delivery', () => {
  test('an unacknowledged SET comes back; an acknowledged one does not', async () => {
    const s = await t.signUp();
    const { rx } = await pollStream([iss_sub(s.user.id)]);
    assert.equal((await logout(s.accessToken)).statusCode, 204);
    // Stored when logout answered: the first poll has it.
    const first = await rx.poll({ returnImmediately: true });
    assert.equal(first.sets.size, 1);
    const [jti, set] = [...first.sets][0]!;
    assert.equal(set.type, `${caep}session-revoked`);
    assert.deepEqual(set.claims.sub_id.session, { format: 'opaque', id: s.session.id });
    const again = await rx.poll({ returnImmediately: true });
    assert.deepEqual([...again.sets.keys()], [jti], 'not acknowledged: sent again');
    const acked = await rx.poll({ ack: [jti], returnImmediately: true });
    assert.equal(acked.sets.size, 0);
    assert.equal((await rx.poll({ returnImmediately: true })).sets.size, 0, 'acknowledged: never again');
  });

  test('a long poll answers as soon as a SET is stored', async () => {
    const s = await t.signUp();
    const { rx } = await pollStream([iss_sub(s.user.id)]);
    const waiting = rx.poll({ returnImmediately: false });
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, false, 'nothing pending: the poll waits');
    await logout(s.accessToken);
    const { sets } = await waiting;
    assert.equal(revokedSessions([...sets.values()], s.session.id).length, 1);
  });

  test('a poll that leaves out returnImmediately is a long poll (RFC 8936 §2.4: the default is false)', async () => {
    const s = await t.signUp();
    const { rx } = await pollStream([iss_sub(s.user.id)]);
    const waiting = rx.poll({ maxEvents: 10 });
    // Given the time to answer at once (wrongly, with nothing): it must wait for the logout's SET instead.
    await new Promise((r) => setTimeout(r, 100));
    await logout(s.accessToken);
    const { sets } = await waiting;
    assert.equal(revokedSessions([...sets.values()], s.session.id).length, 1);
  });

  test('a stream has at most maxLongPollsPerStream long polls waiting; one more answers at once', async () => {
    const patient = await ssfApp({ longPollTimeout: '120s' });
    try {
      const s = await createStream(patient, { delivery: { method: poll } });
      const rx = new PollReceiver(patient.url, `${patient.url}/ssf/poll/${s.stream_id}`, issuer, receiver.id, receiver);
      const waiting = Array.from({ length: maxLongPollsPerStream }, () => rx.poll({ returnImmediately: false }));
      let settled = 0;
      for (const w of waiting) void w.then(() => (settled += 1));
      // Once the others wait, one more is answered (empty) at once instead of waiting 120 s.
      let extra: { sets: Map<string, unknown> } | null = null;
      const deadline = Date.now() + 60_000;
      while (extra === null) {
        assert.ok(Date.now() < deadline, 'a poll beyond the cap is answered');
        const more = rx.poll({ returnImmediately: false });
        extra = await Promise.race([more, new Promise<null>((r) => setTimeout(r, 2_000, null))]);
        waiting.push(more.then((p) => p));
      }
      assert.equal(extra.sets.size, 0);
      assert.ok(settled < waiting.length, 'the others still wait');
      // A SET releases the waiting ones.
      const u = await patient.signUp();
      await patient.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.accessToken), payload: {} });
      await Promise.all(waiting);
    } finally {
      await patient.close();
    }
  });

  test('a long poll with nothing to send ends empty after longPollTimeout', async () => {
    const quick = await ssfApp({ longPollTimeout: '300ms' });
    try {
      const s = await createStream(quick, { delivery: { method: poll } });
      const rx = new PollReceiver(quick.url, `${quick.url}/ssf/poll/${s.stream_id}`, issuer, receiver.id, receiver);
      assert.equal((await rx.poll({ returnImmediately: false })).sets.size, 0);
    } finally {
      await quick.close();
    }
  });

  test('maxEvents pages the backlog (moreAvailable); setErrs are recorded and not sent again', async () => {
    const email = `paged-${Date.now()}@example.com`;
    const a = await t.signUp(email);
    const { id, rx } = await pollStream([{ format: 'email', email }]);
    const b = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'correct horse 42' } });
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.accessToken), payload: { scope: 'global' } });
    void b;
    const page = await rx.poll({ maxEvents: 1, returnImmediately: true });
    assert.equal(page.sets.size, 1);
    assert.equal(page.moreAvailable, true);
    const [jti] = [...page.sets.keys()];
    const rest = await rx.poll({ setErrs: { [jti!]: { err: 'invalid_request', description: 'test refusal' } }, returnImmediately: true });
    assert.equal(rest.sets.size, 1);
    assert.equal(rest.moreAvailable, false);
    assert.equal(rest.sets.has(jti!), false, 'a SET the receiver refused is not sent again');
    await rx.poll({ ack: [...rest.sets.keys()], maxEvents: 0 });
    const until = Date.now() + 20_000;
    for (;;) {
      const entries = (await t.app.tokenstile.audit({ limit: 1000 })).filter((e) => e.type === 'ssf.set_error' && JSON.stringify(e).includes(id));
      if (entries.length === 1) break;
      assert.ok(Date.now() < until, 'setErrs are audited');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  test('default_subjects NONE: only added subjects are delivered; email format when the stream asks for it', async () => {
    const watched = await t.signUp();
    const other = await t.signUp();
    const { rx } = await pollStream([{ format: 'email', email: watched.user.email }], { user_subject_format: 'email' });
    await logout(other.accessToken);
    await logout(watched.accessToken);
    const got = await rx.collect((r) => revokedSessions(r, watched.session.id).length > 0);
    assert.equal(revokedSessions(got, other.session.id).length, 0);
    assert.deepEqual(revokedSessions(got, watched.session.id)[0]!.claims.sub_id.user, { format: 'email', email: watched.user.email });
  });

  test('the backlog is capped (oldest dropped) and undelivered SETs expire; both are counted and audited', async () => {
    const capped = await ssfApp({ maxBacklog: 2, setLifetime: '1h' });
    try {
      const s = await createStream(capped, { delivery: { method: poll } });
      const rx = new PollReceiver(capped.url, `${capped.url}/ssf/poll/${s.stream_id}`, issuer, receiver.id, receiver);
      const sessions: string[] = [];
      for (let i = 0; i < 3; i++) {
        const u = await capped.signUp();
        await capped.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(u.accessToken), payload: {} });
        sessions.push(u.session.id);
      }
      const kept = [...(await rx.poll({ returnImmediately: true })).sets.values()];
      assert.deepEqual(kept.map((r) => r.claims.sub_id.session.id), sessions.slice(1), 'the two newest are kept');
      capped.clock.advance(3_600_000 + 1);
      await capped.app.tokenstile.purge();
      assert.equal((await rx.poll({ returnImmediately: true })).sets.size, 0, 'expired');
      const metrics = (await capped.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /tokenstile_ssf_sent_sets_total\{outcome="dropped"\} 1/);
      assert.match(metrics, /tokenstile_ssf_sent_sets_total\{outcome="expired"\} 2/);
      const until = Date.now() + 20_000;
      for (;;) {
        const types = (await capped.app.tokenstile.audit({ limit: 1000 })).map((e) => e.type);
        if (types.includes('ssf.sets_dropped') && types.includes('ssf.sets_expired')) break;
        assert.ok(Date.now() < until, 'drops and expiries are audited');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await capped.close();
    }
  });

  test('a removed receiver\'s streams get no new SETs', async () => {
    const s = await t.signUp();
    const { rx } = await pollStream([iss_sub(s.user.id)]);
    const transmitter = sharedSignalsOf(t.app.tokenstile)!.transmitter;
    // What the routes install: the client registry's view (removed clients drop out within its cache time).
    transmitter.setReceiverCheck((clientId) => clientId !== receiver.id);
    try {
      await logout(s.accessToken);
    } finally {
      transmitter.setReceiverCheck(() => true);
    }
    assert.equal((await rx.poll({ returnImmediately: true })).sets.size, 0);
  });

  test('a push stream cannot be polled; a poll without credentials is refused', async () => {
    const s = await createStream(t, { delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: 'https://receiver.example/x' } });
    const res = await call(t, 'POST', `/ssf/poll/${s.stream_id}`, {});
    assert.equal(res.statusCode, 400);
    const anon = await t.app.inject({ method: 'POST', url: `/ssf/poll/${s.stream_id}`, payload: {} });
    assert.equal(anon.statusCode, 401);
  });
});
