// Acknowledging verifiers (docs/verify.md): the logout guarantee for resource servers, the lease
// when the stream freezes, and the measured bound of the default mode.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVerifier, type Verifier } from '../../src/verify/index.ts';
import { bearer, goodPassword, issuer, testApp } from '../helpers.ts';
import { tcpProxy } from '../scale/tcp-proxy.ts';
import { client, clients, eventually, listeningApp, outcome, verifierFor, type ListeningApp } from './verify-helpers.ts';

const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
/** The lease an instance grants (its revocation lease, 1.5 s by default). */
const leaseMs = 1500;

/** A verifier of `t` whose stream (and acknowledgements) go to `base` (e.g. through a proxy). */
function verifierVia(t: ListeningApp, base: string, acknowledge: boolean): Verifier {
  return verifierFor(t, {
    jwksUrl: `${t.url}/.well-known/jwks.json`,
    revocations: { ...client, url: `${base}/revocations/stream`, introspectionUrl: `${t.url}/oauth/introspect`, staleAfter: '2s', acknowledge },
  });
}

/** Waits until `performance.now()` reaches `at` (a deadline, not a fixed sleep). */
async function until(at: number): Promise<void> {
  while (performance.now() < at) await new Promise((r) => setTimeout(r, Math.max(1, at - performance.now())));
}

describe('POST /revocations/stream/ack', () => {
  test('grants a lease only for an open stream of the caller, acknowledged up to its last event', async () => {
    const t = await listeningApp();
    const controller = new AbortController();
    try {
      const res = await fetch(`${t.url}/revocations/stream`, { headers: { authorization: basic }, signal: controller.signal });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('event: snapshot')) text += Buffer.from((await reader.read()).value!).toString('utf8');
      const stream = JSON.parse(/event: stream\ndata: (.*)\n/.exec(text)![1]!) as { stream: string; leaseMs: number };
      const lastId = /id: (\S+)\nevent: snapshot/.exec(text)![1]!;
      assert.equal(stream.leaseMs, leaseMs);
      const ack = (body: unknown, authorization = basic) =>
        fetch(`${t.url}/revocations/stream/ack`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) });

      assert.equal((await ack({ stream: stream.stream, upTo: lastId }, '')).status, 401);
      const unknown = await ack({ stream: 'nope', upTo: lastId });
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as { code: string }).code, 'not_found');
      const malformed = await ack({ stream: stream.stream, upTo: 'x' });
      assert.equal(malformed.status, 400);
      assert.equal(((await malformed.json()) as { code: string }).code, 'invalid_request');
      assert.equal((await ack({ stream: stream.stream, upTo: lastId, extra: 1 })).status, 400);
      // Until the instance's own list is trusted under the announced lease, nothing is granted;
      // with no feed (one process) that is at once.
      let grantSentAt = 0;
      await eventually(
        async () => {
          grantSentAt = performance.now();
          return ((await (await ack({ stream: stream.stream, upTo: lastId })).json()) as { current: boolean }).current;
        },
        5000,
        'a current answer',
      );

      // A revocation sent on the stream: an acknowledgement that trails it renews nothing, and the
      // logout waits for the event or for the end of the lease granted before.
      const s = await t.signUp();
      const logout = t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) });
      while (!text.includes('event: revoked')) text += Buffer.from((await reader.read()).value!).toString('utf8');
      const revokedId = /id: (\S+)\nevent: revoked/.exec(text)![1]!;
      assert.deepEqual(await (await ack({ stream: stream.stream, upTo: lastId })).json(), { current: false, leaseMs });
      assert.equal((await logout).statusCode, 204);
      assert.ok(performance.now() >= grantSentAt + leaseMs, 'the logout answered before the event was acknowledged or the lease ran out');
      assert.deepEqual(await (await ack({ stream: stream.stream, upTo: revokedId })).json(), { current: true, leaseMs });
      // Acknowledged at once, a logout answers at once.
      const s2 = await t.signUp();
      const t1 = performance.now();
      const logout2 = t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s2.accessToken) });
      while ((text.match(/event: revoked/g) ?? []).length < 2) text += Buffer.from((await reader.read()).value!).toString('utf8');
      const secondId = [...text.matchAll(/id: (\S+)\nevent: revoked/g)][1]![1]!;
      assert.deepEqual(await (await ack({ stream: stream.stream, upTo: secondId })).json(), { current: true, leaseMs });
      assert.equal((await logout2).statusCode, 204);
      assert.ok(performance.now() - t1 < leaseMs, 'an acknowledged revocation waited out the lease');
    } finally {
      controller.abort();
      await t.close();
    }
  });
});

describe('an acknowledging verifier', () => {
  test('refuses every ended token the moment its logout answers, over many logouts under concurrent load', async () => {
    const t = await listeningApp();
    const v = verifierVia(t, t.url, true);
    let running = true;
    let unavailable = 0;
    const load: Promise<void>[] = [];
    try {
      await v.ready();
      const live = await t.signUp();
      // Background traffic over sockets: protected requests on the server, and verifications.
      for (let i = 0; i < 4; i++) {
        load.push(
          (async () => {
            while (running) {
              const res = await fetch(`${t.url}/auth/me`, { headers: bearer(live.accessToken) });
              assert.equal(res.status, 200);
              await res.arrayBuffer();
              // While its lease lapses (acknowledgements trailing the events) it refuses: never a wrong yes.
              const seen = await outcome(v.verify(live.accessToken));
              if (seen === 'service_unavailable') unavailable += 1;
              else assert.equal(seen, 'ok');
            }
          })(),
        );
      }
      const email = 'acks@example.com';
      await t.signUp(email);
      const logouts = 60;
      let accepted = 0;
      const latencies: number[] = [];
      await Promise.all(
        Array.from({ length: 3 }, async () => {
          for (let i = 0; i < logouts / 3; i++) {
            const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
            const token = (login.json() as { accessToken: string }).accessToken;
            await eventually(async () => (await outcome(v.verify(token))) === 'ok', 10_000, 'the fresh token accepted');
            const t0 = performance.now();
            assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token) })).statusCode, 204);
            latencies.push(performance.now() - t0);
            // The very moment the logout answers: no await in between.
            const verdict = await outcome(v.verify(token));
            if (verdict === 'ok') accepted += 1;
            else assert.equal(verdict, 'session_revoked');
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      console.log(`# acknowledging verifier: ${accepted} of ${logouts} ended tokens accepted after the answer (${unavailable} background checks refused while the lease lapsed); logout p50 ${latencies[logouts / 2 - 1]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
      assert.equal(accepted, 0);
    } finally {
      running = false;
      await Promise.allSettled(load);
      v.close();
      await t.close();
    }
  });

  test('whose stream freezes stops trusting its list within its lease, and a logout meanwhile answers once that lease is over', async () => {
    const t = await listeningApp();
    const proxy = await tcpProxy(Number(new URL(t.url).port));
    const v = verifierVia(t, `http://127.0.0.1:${proxy.port}`, true);
    try {
      await v.ready();
      const s = await t.signUp();
      assert.equal(await outcome(v.verify(s.accessToken)), 'ok');
      assert.ok(v.fresh);
      const frozenAt = performance.now();
      proxy.freeze();
      // Every answered acknowledgement was sent before the freeze: the lease ends within one lease.
      const t0 = performance.now();
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken) })).statusCode, 204);
      const answeredAt = performance.now();
      // The instance waited for the verifier's lease to run out, and no longer.
      assert.equal(v.fresh, false, 'the logout answered while the verifier still trusted its list');
      assert.notEqual(await outcome(v.verify(s.accessToken)), 'ok');
      assert.ok(answeredAt - t0 < leaseMs + 1000, `logout took ${answeredAt - t0} ms, more than a lease`);
      await until(frozenAt + leaseMs);
      assert.equal(v.fresh, false);
      console.log(`# frozen stream, acknowledging: logout answered after ${(answeredAt - t0).toFixed(0)} ms (verifier lease ${leaseMs} ms)`);
      proxy.thaw();
      await eventually(async () => (await outcome(v.verify(s.accessToken))) === 'session_revoked', 10_000, 'refusal once thawed');
    } finally {
      v.close();
      await proxy.close();
      await t.close();
    }
  });
});

describe('a verifier without acknowledgements', () => {
  test('whose stream freezes stops trusting its list within staleAfter (2 s); the bound is measured', async () => {
    const t = await listeningApp();
    const proxy = await tcpProxy(Number(new URL(t.url).port));
    const v = verifierVia(t, `http://127.0.0.1:${proxy.port}`, false);
    try {
      await v.ready();
      await eventually(() => v.fresh, 5000, 'fresh');
      const frozenAt = performance.now();
      proxy.freeze();
      let staleAt = Number.POSITIVE_INFINITY;
      await eventually(() => {
        if (v.fresh) return false;
        staleAt = performance.now();
        return true;
      }, 5000, 'stale');
      console.log(`# frozen stream, not acknowledging: list trusted for ${(staleAt - frozenAt).toFixed(0)} ms after the freeze (bound: staleAfter 2000 ms)`);
      await until(frozenAt + 2000);
      assert.equal(v.fresh, false);
    } finally {
      v.close();
      await proxy.close();
      await t.close();
    }
  });
});

describe('ready()', () => {
  test('waits for an auth server that starts later', async () => {
    const { freePort } = await import('../scale/harness.ts');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const v = createVerifier({
      issuer,
      audience: 'tokenstile',
      algorithms: ['ES256'],
      jwksUrl: `${url}/.well-known/jwks.json`,
      revocations: { ...client, url: `${url}/revocations/stream`, introspectionUrl: `${url}/oauth/introspect` },
    });
    const ready = v.ready(20_000);
    let settled = false;
    void ready.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(settled, false, 'ready() gave up while the server was not up yet');
    const t = await testApp({ clients, revocationStream: { heartbeatMs: 200 } });
    try {
      await t.app.listen({ host: '127.0.0.1', port });
      await ready;
      const s = await t.signUp();
      assert.equal(await outcome(v.verify(s.accessToken)), 'ok');
    } finally {
      v.close();
      await t.close();
    }
  });

  test('names the URL and the cause when the server never comes', async () => {
    const { freePort } = await import('../scale/harness.ts');
    const url = `http://127.0.0.1:${await freePort()}`;
    const v = createVerifier({
      issuer,
      audience: 'tokenstile',
      algorithms: ['ES256'],
      jwksUrl: `${url}/.well-known/jwks.json`,
      revocations: { ...client, url: `${url}/revocations/stream` },
    });
    const t0 = performance.now();
    try {
      await assert.rejects(v.ready(1500), (err: Error) => {
        assert.equal((err as { code?: string }).code, 'service_unavailable');
        assert.match(err.message, /not ready within 1500 ms/);
        assert.ok(err.message.includes(`${url}/.well-known/jwks.json`), err.message);
        assert.ok(err.message.includes(`${url}/revocations/stream`), err.message);
        assert.match(err.message, /ECONNREFUSED/);
        assert.ok(err.cause instanceof Error);
        return true;
      });
      assert.ok(performance.now() - t0 >= 1490, 'rejected before its timeout');
    } finally {
      v.close();
    }
  });
});
