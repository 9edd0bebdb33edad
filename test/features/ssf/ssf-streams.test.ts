// The transmitter's metadata and stream management API (SSF 1.0 §7–8), over every adapter and backend.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issuer, problemOf, testApp } from '../../helpers.ts';
import { call, createStream, limitedReceiver, otherReceiver, receiver, ssfApp, type SsfApp } from './ssf-test-kit.ts';

const push = 'urn:ietf:rfc:8935';
const poll = 'urn:ietf:rfc:8936';
const sessionRevoked = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const credentialChange = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';

let t: SsfApp;
before(async () => {
  t = await ssfApp({ maxStreamsPerClient: 2, maxSubjectsPerStream: 2 });
});
after(() => t.close());

function expectProblem(res: { statusCode: number }, status: number, code: string, field?: string) {
  assert.equal(res.statusCode, status, (res as { body?: string }).body);
  const p = problemOf(res as never) as { code: string; field?: string };
  assert.equal(p.code, code);
  if (field !== undefined) assert.equal(p.field, field);
}

describe('SSF transmitter metadata', () => {
  test('/.well-known/ssf-configuration names the endpoints, the JWKS, both delivery methods and Basic client credentials', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/ssf-configuration' });
    assert.equal(res.statusCode, 200);
    const m = res.json();
    assert.equal(m.spec_version, '1_0');
    assert.equal(m.issuer, issuer);
    assert.equal(m.jwks_uri, `${issuer}/.well-known/jwks.json`);
    assert.deepEqual(m.delivery_methods_supported, [push, poll]);
    assert.equal(m.configuration_endpoint, `${issuer}/ssf/streams`);
    assert.equal(m.status_endpoint, `${issuer}/ssf/status`);
    assert.equal(m.add_subject_endpoint, `${issuer}/ssf/subjects/add`);
    assert.equal(m.remove_subject_endpoint, `${issuer}/ssf/subjects/remove`);
    assert.equal(m.verification_endpoint, `${issuer}/ssf/verify`);
    assert.deepEqual(m.authorization_schemes, [{ spec_urn: 'urn:ietf:rfc:7617' }]);
    assert.equal(m.default_subjects, 'ALL');
  });

  test('off by default: no metadata, no streams', async () => {
    const off = await testApp();
    try {
      assert.equal((await off.app.inject({ method: 'GET', url: '/.well-known/ssf-configuration' })).statusCode, 404);
      assert.equal((await off.app.inject({ method: 'POST', url: '/ssf/streams', payload: {} })).statusCode, 404);
    } finally {
      await off.close();
    }
  });

  test('an issuer with a path is also served below /.well-known/ssf-configuration/<path>', async () => {
    const withPath = await testApp({ issuer: `${issuer}/tenant-a`, sharedSignals: { enabled: true } });
    try {
      const res = await withPath.app.inject({ method: 'GET', url: '/.well-known/ssf-configuration/tenant-a' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().configuration_endpoint, `${issuer}/tenant-a/ssf/streams`);
    } finally {
      await withPath.close();
    }
  });
});

describe('SSF stream management', () => {
  test('create, read, update, replace and delete a push stream', async () => {
    const created = await createStream(t, { delivery: { method: push, endpoint_url: 'https://receiver.example/events', authorization_header: 'Bearer receiver-secret' }, description: 'risk' });
    assert.equal(typeof created.stream_id, 'string');
    assert.equal(created.iss, issuer);
    assert.equal(created.aud, receiver.id, 'aud defaults to the client id');
    assert.deepEqual(created.events_requested, [sessionRevoked, credentialChange]);
    assert.deepEqual(created.events_delivered, [sessionRevoked, credentialChange]);
    assert.deepEqual(created.delivery, { method: push, endpoint_url: 'https://receiver.example/events' }, 'authorization_header is never read back');
    const id = created.stream_id as string;

    const read = await call(t, 'GET', `/ssf/streams?stream_id=${id}`);
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), created);
    const list = await call(t, 'GET', '/ssf/streams');
    assert.ok((list.json() as Array<{ stream_id: string }>).some((s) => s.stream_id === id));

    const patched = await call(t, 'PATCH', '/ssf/streams', { stream_id: id, events_requested: [sessionRevoked, 'urn:example:unknown'], aud: 'https://risk.example' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(patched.json().events_delivered, [sessionRevoked]);
    assert.equal(patched.json().aud, 'https://risk.example');
    assert.equal(patched.json().description, 'risk', 'PATCH keeps what it does not name');

    const replaced = await call(t, 'PUT', '/ssf/streams', { ...(patched.json() as object), delivery: { method: poll } });
    assert.equal(replaced.statusCode, 200, replaced.body);
    assert.equal(replaced.json().delivery.method, poll);
    assert.equal(replaced.json().delivery.endpoint_url, `${issuer}/ssf/poll/${id}`);
    const again = await call(t, 'PUT', '/ssf/streams', { stream_id: id, delivery: replaced.json().delivery });
    assert.equal(again.statusCode, 200, 'the poll endpoint read back is accepted');
    assert.equal(again.json().aud, receiver.id, 'PUT replaces: members left out take their defaults');

    assert.equal((await call(t, 'DELETE', `/ssf/streams?stream_id=${id}`)).statusCode, 204);
    expectProblem(await call(t, 'GET', `/ssf/streams?stream_id=${id}`), 404, 'not_found');
  });

  test('a receiver sees and manages only its own streams: another client gets 404', async () => {
    const mine = await createStream(t, { delivery: { method: poll } });
    const id = mine.stream_id as string;
    expectProblem(await call(t, 'GET', `/ssf/streams?stream_id=${id}`, undefined, otherReceiver), 404, 'not_found');
    expectProblem(await call(t, 'PATCH', '/ssf/streams', { stream_id: id, description: 'x' }, otherReceiver), 404, 'not_found');
    expectProblem(await call(t, 'DELETE', `/ssf/streams?stream_id=${id}`, undefined, otherReceiver), 404, 'not_found');
    expectProblem(await call(t, 'GET', `/ssf/status?stream_id=${id}`, undefined, otherReceiver), 404, 'not_found');
    expectProblem(await call(t, 'POST', '/ssf/verify', { stream_id: id }, otherReceiver), 404, 'not_found');
    expectProblem(await call(t, 'POST', `/ssf/poll/${id}`, {}, otherReceiver), 404, 'not_found');
    assert.equal((await call(t, 'GET', '/ssf/streams', undefined, otherReceiver)).json().some((s: { stream_id: string }) => s.stream_id === id), false);
    await call(t, 'DELETE', `/ssf/streams?stream_id=${id}`);
  });

  test('without client credentials, or with wrong ones: 401 invalid_client', async () => {
    expectProblem(await t.app.inject({ method: 'POST', url: '/ssf/streams', payload: { delivery: { method: poll } } }), 401, 'invalid_client');
    expectProblem(await call(t, 'GET', '/ssf/streams', undefined, { id: receiver.id, secret: 'wrong-secret-0123456789' }), 401, 'invalid_client');
  });

  test('bad fields answer 400 naming the field', async () => {
    expectProblem(await call(t, 'POST', '/ssf/streams', { delivery: { method: push, endpoint_url: 'http://receiver.example/events' } }), 400, 'invalid_request', 'delivery.endpoint_url');
    expectProblem(await call(t, 'POST', '/ssf/streams', { delivery: { method: push, endpoint_url: 'https://user:pw@receiver.example/' } }), 400, 'invalid_request', 'delivery.endpoint_url');
    expectProblem(await call(t, 'POST', '/ssf/streams', { delivery: { method: push } }), 400, 'invalid_request', 'delivery.endpoint_url');
    expectProblem(await call(t, 'POST', '/ssf/streams', { delivery: { method: 'urn:example:carrier-pigeon' } }), 400, 'invalid_request');
    expectProblem(await call(t, 'POST', '/ssf/streams', {}), 400, 'invalid_request', 'delivery');
    expectProblem(await call(t, 'POST', '/ssf/streams', { delivery: { method: poll }, colour: 'blue' }), 400, 'invalid_request');
    expectProblem(await call(t, 'POST', '/ssf/streams', { delivery: { method: poll, authorization_header: 'x' } }), 400, 'invalid_request', 'delivery.authorization_header');
    expectProblem(await call(t, 'POST', '/ssf/status', { stream_id: 'x', status: 'sleeping' }), 400, 'invalid_request');
    expectProblem(await call(t, 'GET', '/ssf/status'), 400, 'invalid_request', 'stream_id');
    const s = await createStream(t, { delivery: { method: poll } });
    expectProblem(await call(t, 'POST', '/ssf/subjects/add', { stream_id: s.stream_id, subject: { format: 'iss_sub', iss: 'https://elsewhere.example', sub: 'u' } }), 400, 'invalid_request', 'subject');
    expectProblem(await call(t, 'POST', '/ssf/subjects/add', { stream_id: s.stream_id, subject: { format: 'phone_number', phone_number: '+1' } }), 400, 'invalid_request', 'subject');
    expectProblem(await call(t, 'POST', `/ssf/poll/${s.stream_id}`, { maxEvents: -1 }), 400, 'invalid_request');
    await call(t, 'DELETE', `/ssf/streams?stream_id=${s.stream_id}`);
  });

  test('loopback http push endpoints are accepted (development), others need https', async () => {
    for (const url of ['http://127.0.0.1:9/events', 'http://localhost:9/events', 'http://[::1]:9/events']) {
      const s = await createStream(t, { delivery: { method: push, endpoint_url: url } });
      await call(t, 'DELETE', `/ssf/streams?stream_id=${s.stream_id}`);
    }
  });

  test('streams per receiver and subjects per stream are limited: 409', async () => {
    const a = await createStream(t, { delivery: { method: poll } }, limitedReceiver);
    await createStream(t, { delivery: { method: poll } }, limitedReceiver);
    expectProblem(await call(t, 'POST', '/ssf/streams', { delivery: { method: poll } }, limitedReceiver), 409, 'stream_limit_reached');
    const add = (email: string) => call(t, 'POST', '/ssf/subjects/add', { stream_id: a.stream_id, subject: { format: 'email', email } }, limitedReceiver);
    assert.equal((await add('a@example.com')).statusCode, 200);
    assert.equal((await add('b@example.com')).statusCode, 200);
    assert.equal((await add('a@example.com')).statusCode, 200, 'the same subject again is no new one');
    expectProblem(await add('c@example.com'), 409, 'subject_limit_reached');
    assert.equal((await call(t, 'POST', '/ssf/subjects/remove', { stream_id: a.stream_id, subject: { format: 'email', email: 'a@example.com' } }, limitedReceiver)).statusCode, 204);
  });

  test('status: read, pause, enable, disable', async () => {
    const s = await createStream(t, { delivery: { method: poll } });
    const id = s.stream_id as string;
    assert.deepEqual((await call(t, 'GET', `/ssf/status?stream_id=${id}`)).json(), { stream_id: id, status: 'enabled' });
    const paused = await call(t, 'POST', '/ssf/status', { stream_id: id, status: 'paused', reason: 'maintenance' });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.deepEqual(paused.json(), { stream_id: id, status: 'paused', reason: 'maintenance' });
    assert.deepEqual((await call(t, 'GET', `/ssf/status?stream_id=${id}`)).json(), { stream_id: id, status: 'paused', reason: 'maintenance' });
    assert.equal((await call(t, 'POST', '/ssf/status', { stream_id: id, status: 'disabled' })).json().status, 'disabled');
    await call(t, 'DELETE', `/ssf/streams?stream_id=${id}`);
  });

  test('the OpenAPI document lists the stream endpoints', async () => {
    const docs = await testApp({ docs: true, sharedSignals: { enabled: true } });
    try {
      const res = await docs.app.inject({ method: 'GET', url: '/docs/json' });
      assert.equal(res.statusCode, 200);
      const paths = Object.keys(res.json().paths);
      for (const p of ['/ssf/streams', '/ssf/status', '/ssf/subjects/add', '/ssf/subjects/remove', '/ssf/verify', '/ssf/poll/{streamId}', '/.well-known/ssf-configuration']) assert.ok(paths.includes(p), p);
    } finally {
      await docs.close();
    }
  });
});
