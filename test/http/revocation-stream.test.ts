import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer } from '../helpers.ts';
import { client, listeningApp, type ListeningApp } from '../verify/verify-helpers.ts';

const auth = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;

interface SseEvent {
  event: string;
  id: string | null;
  data: any;
}

/** Opens the stream and collects parsed events until `until` says stop; then disconnects. */
async function readEvents(t: ListeningApp, until: (events: SseEvent[]) => boolean, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const controller = new AbortController();
  const res = await fetch(`${t.url}/revocations/stream`, { headers: { authorization: auth, ...headers }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
  const events: SseEvent[] = [];
  let buffer = '';
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    for await (const chunk of res.body!) {
      buffer += Buffer.from(chunk).toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: SseEvent = { event: 'message', id: null, data: null };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
        }
        if (e.data !== null) events.push(e);
      }
      if (until(events)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

describe('GET /revocations/stream', () => {
  test('refuses unauthenticated clients with 401 invalid_client', async () => {
    const t = await listeningApp();
    try {
      const res = await fetch(`${t.url}/revocations/stream`);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'invalid_client');
      const wrong = await fetch(`${t.url}/revocations/stream`, { headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:nope`).toString('base64')}` } });
      assert.equal(wrong.status, 401);
    } finally {
      await t.close();
    }
  });

  test('sends a snapshot of live revocations, then each new one, then heartbeats', async () => {
    const t = await listeningApp();
    try {
      const before = await t.signUp();
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(before.accessToken) });
      const later = await t.signUp();
      let loggedOut = false;
      const events = await readEvents(t, (es) => {
        if (!loggedOut && es.some((e) => e.event === 'snapshot')) {
          loggedOut = true;
          void t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(later.accessToken) });
        }
        return es.some((e) => e.event === 'revoked') && es.filter((e) => e.event === 'heartbeat').length >= 2;
      });
      const snapshot = events.find((e) => e.event === 'snapshot')!;
      assert.ok(snapshot.data.revocations.some(([sid]: [string]) => sid === before.session.id));
      assert.match(snapshot.id!, /^[A-Za-z0-9_-]+\.\d+$/);
      const revoked = events.find((e) => e.event === 'revoked')!;
      assert.deepEqual(revoked.data.revocations.map(([sid]: [string]) => sid), [later.session.id]);
      assert.equal(typeof revoked.data.revocations[0][1], 'number');
    } finally {
      await t.close();
    }
  });

  test('Last-Event-ID of this instance resumes with exactly the missed events; an unknown one gets a snapshot', async () => {
    const t = await listeningApp();
    try {
      const first = await readEvents(t, (es) => es.some((e) => e.event === 'snapshot'));
      const lastId = first.find((e) => e.event === 'snapshot')!.id!;
      const a = await t.signUp();
      const b = await t.signUp();
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.accessToken) });
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(b.accessToken) });
      const resumed = await readEvents(t, (es) => es.filter((e) => e.event === 'revoked').length >= 2, { 'last-event-id': lastId });
      assert.equal(resumed.some((e) => e.event === 'snapshot'), false, 'no snapshot on resume');
      assert.deepEqual(resumed.filter((e) => e.event === 'revoked').map((e) => e.data.revocations[0][0]), [a.session.id, b.session.id]);
      const foreign = await readEvents(t, (es) => es.some((e) => e.event === 'snapshot'), { 'last-event-id': 'otherinstance.7' });
      const snap = foreign.find((e) => e.event === 'snapshot')!;
      assert.deepEqual(new Set(snap.data.revocations.map(([sid]: [string]) => sid)), new Set([a.session.id, b.session.id]));
    } finally {
      await t.close();
    }
  });
});

describe('heartbeats follow the instance\'s own health', () => {
  test('an instance whose revocation list may be behind sends no heartbeat, so its verifiers go stale; it resumes when healthy', async () => {
    const Fastify = (await import('fastify')).default;
    const { ClientRegistry } = await import('../../src/core/clients.ts');
    const { revocationStreamRoutes } = await import('../../src/http/revocation-stream.ts');
    const core = { degraded: true, config: { revocationLeaseMs: 1500 }, liveRevocations: () => [], onRevocations: () => () => {}, holdForVerifiers: () => {} };
    const app = Fastify();
    await app.register(revocationStreamRoutes, {
      core: core as never,
      feed: core,
      clients: new ClientRegistry([{ id: client.clientId, secret: client.clientSecret }]),
      stream: { heartbeatMs: 20 },
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const controller = new AbortController();
    try {
      const res = await fetch(`${url}/revocations/stream`, { headers: { authorization: auth }, signal: controller.signal });
      const reader = res.body!.getReader();
      const first = Buffer.from((await reader.read()).value!).toString('utf8');
      assert.match(first, /event: snapshot/);
      assert.doesNotMatch(first, /event: heartbeat/, 'no heartbeat from a degraded instance');
      core.degraded = false;
      let text = '';
      while (!text.includes('event: heartbeat')) text += Buffer.from((await reader.read()).value!).toString('utf8');
    } finally {
      controller.abort();
      await app.close();
    }
  });
});
