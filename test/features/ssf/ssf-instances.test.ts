// Several instances on one PostgreSQL + Redis: each SET is pushed once although every instance's
// pusher looks at the outbox, and a SET stored before a restart is delivered after it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { bearer, issuer, testApp, type TestApp } from '../../helpers.ts';
import { cleanUp, postgresUrl, redisUrl, sharedServicesProblem } from '../../scale/harness.ts';
import { PushReceiver } from './ssf-receivers.ts';
import { call, clients, createStream, revokedSessions } from './ssf-test-kit.ts';

const problem = await sharedServicesProblem();
const skip = problem !== null && process.env.CI !== 'true' ? `needs PostgreSQL and Redis: ${problem}` : false;
const schema = `ts_ssf_${process.pid}_${randomBytes(4).toString('hex')}`;
const shared = { databaseUrl: `${postgresUrl}?schema=${schema}`, redisUrl, redisKeyPrefix: `${schema}:`, clients, sharedSignals: { enabled: true, retryDelay: '50ms', outboxPollInterval: '50ms' } };
const open = (sharedSignals: Record<string, unknown> = {}) => testApp({ ...shared, sharedSignals: { ...shared.sharedSignals, ...sharedSignals } });
const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).jti as string;

describe('SSF transmitter on several instances (PostgreSQL + Redis)', { skip }, () => {
  let rx: PushReceiver;
  before(async () => {
    rx = await new PushReceiver().start('http://placeholder.invalid', issuer, 'risk-engine');
  });
  after(async () => {
    await rx.close();
    if (!skip) await cleanUp(schema, `${schema}:`);
  });

  test('logouts on either of two instances are each pushed exactly once', async () => {
    const a = await open();
    const b = await open();
    try {
      const url = await a.app.listen({ host: '127.0.0.1', port: 0 });
      rx = await restartWithJwks(rx, url);
      await createStream(a, { delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: rx.url } });
      const sessions: string[] = [];
      for (let i = 0; i < 12; i++) {
        const s = await a.signUp();
        const on: TestApp = i % 2 === 0 ? a : b;
        assert.equal((await on.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} })).statusCode, 204);
        sessions.push(s.session.id);
      }
      await rx.until((r) => sessions.every((id) => revokedSessions(r, id).length > 0), 30_000, 'every logout');
      // One more after them: by the time it arrives, a duplicate of an earlier one would have.
      const last = await b.signUp();
      await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(last.accessToken), payload: {} });
      await rx.until((r) => revokedSessions(r, last.session.id).length > 0);
      for (const id of sessions) assert.equal(revokedSessions(rx.received, id).length, 1, `session ${id} delivered once`);
      const posts = rx.posted.map(jtiOf);
      assert.equal(new Set(posts).size, posts.length, 'no SET was posted twice');
    } finally {
      await b.close();
      await a.close();
    }
  });

  test('a receiver slower than the push lease still gets each SET once: the lease is renewed while pushing', async () => {
    // Both instances look at the outbox every 50 ms; a claimed batch takes longer to push than the
    // 10 s lease it was claimed with (the test clocks run 2.5 times as fast as real time, and each
    // push takes the receiver 400 ms: 1 s on those clocks). Were the lease not renewed, the other
    // instance would take the entries not yet pushed and push them again.
    const a = await open({ pushLease: '10s' });
    const b = await open({ pushLease: '10s' });
    let ticking: NodeJS.Timeout | undefined;
    try {
      const url = await a.app.listen({ host: '127.0.0.1', port: 0 });
      rx = await restartWithJwks(rx, url);
      const streams = (await call(a, 'GET', '/ssf/streams')).json() as Array<{ stream_id: string }>;
      for (const s of streams) await call(a, 'DELETE', `/ssf/streams?stream_id=${s.stream_id}`);
      const stream = await createStream(a, { delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: rx.url } });
      // Held while paused, so one claim takes them all when enabled.
      assert.equal((await call(a, 'POST', '/ssf/status', { stream_id: stream.stream_id, status: 'paused' })).statusCode, 200);
      const sessions: string[] = [];
      for (let i = 0; i < 15; i++) {
        const s = await a.signUp();
        await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} });
        sessions.push(s.session.id);
      }
      rx.delayMs = 400;
      ticking = setInterval(() => {
        a.clock.advance(250);
        b.clock.set(a.clock.now());
      }, 100);
      assert.equal((await call(b, 'POST', '/ssf/status', { stream_id: stream.stream_id, status: 'enabled' })).statusCode, 200);
      await rx.until((r) => sessions.every((id) => revokedSessions(r, id).length > 0), 60_000, 'every logout');
      const posts = rx.posted.map(jtiOf);
      assert.equal(new Set(posts).size, posts.length, 'no SET was posted twice');
    } finally {
      clearInterval(ticking);
      rx.delayMs = 0;
      await b.close();
      await a.close();
    }
  });

  test('a SET stored while the receiver fails is delivered by the instance started after a restart', async () => {
    const a = await open();
    let session: string;
    try {
      const url = await a.app.listen({ host: '127.0.0.1', port: 0 });
      rx = await restartWithJwks(rx, url);
      const streams = (await call(a, 'GET', '/ssf/streams')).json() as Array<{ stream_id: string }>;
      for (const s of streams) await call(a, 'DELETE', `/ssf/streams?stream_id=${s.stream_id}`);
      await createStream(a, { delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: rx.url } });
      rx.failures.push(...Array.from({ length: 1000 }, () => 503));
      const s = await a.signUp();
      session = s.session.id;
      await a.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} });
      await rx.until(() => rx.posted.length > 0, 20_000, 'a first (failed) push');
    } finally {
      await a.close();
    }
    assert.equal(revokedSessions(rx.received, session).length, 0);
    rx.failures.length = 0;
    const c = await open();
    try {
      const url = await c.app.listen({ host: '127.0.0.1', port: 0 });
      rx = await restartWithJwks(rx, url);
      await rx.until((r) => revokedSessions(r, session).length === 1, 30_000, 'the stored SET after the restart');
    } finally {
      await c.close();
    }
  });
});

/** The receiver, listening again on its port, now reading the JWKS of a live instance. */
async function restartWithJwks(old: PushReceiver, transmitterUrl: string): Promise<PushReceiver> {
  const port = new URL(old.url).port;
  await old.close();
  const fresh = new PushReceiver();
  await fresh.start(transmitterUrl, issuer, 'risk-engine', Number(port));
  return fresh;
}
