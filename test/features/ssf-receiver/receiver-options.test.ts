// The receivers' configuration is checked at startup, with messages that name the field.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverConfigFromEnv } from '../../../src/cli/env-config.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { parseReceivers } from '../../../src/features/ssf-receiver/receiver-options.ts';
import { testApp } from '../../helpers.ts';

const ours = 'https://auth.example.com';
const secret = 'a'.repeat(32);
const push = { id: 'acme', issuer: 'https://idp.acme.example', delivery: { method: 'push', secret } };

function refused(value: string | object[], message: RegExp): void {
  assert.throws(() => parseReceivers(value as never, ours), (err: unknown) => err instanceof ConfigError && message.test(err.message), `expected ${message}`);
}

describe('parseReceivers', () => {
  test('unset or empty: no receivers (the feature is off)', () => {
    assert.deepEqual(parseReceivers(undefined, ours), []);
    assert.deepEqual(parseReceivers('', ours), []);
    assert.deepEqual(parseReceivers([], ours), []);
  });

  test('defaults: audience our issuer, every subject format, session-revoked only, pinned asymmetric algorithms, 7 days', () => {
    const [r] = parseReceivers(JSON.stringify([push]), ours);
    assert.equal(r!.audience, ours);
    assert.deepEqual([...r!.subjects], ['email', 'iss_sub', 'opaque', 'complex']);
    assert.deepEqual([...r!.events], ['session-revoked']);
    assert.deepEqual(r!.algorithms, ['RS256', 'PS256', 'ES256', 'EdDSA']);
    assert.equal(r!.maxAgeMs, 7 * 24 * 3600_000);
    assert.equal(r!.jwksUri, null);
  });

  test('a poll receiver with createStream may leave the endpoint out; a push stream points at our endpoint', () => {
    const [poll, pushed] = parseReceivers(
      [
        { id: 'p', issuer: 'https://t.example', delivery: { method: 'poll', authorization: 'Bearer x' }, createStream: { authorization: 'Bearer y' } },
        { ...push, createStream: { authorization: 'Bearer y' } },
      ],
      ours,
    );
    assert.equal(poll!.delivery.method, 'poll');
    assert.equal(pushed!.createStream?.endpointUrl, `${ours}/ssf/receivers/acme/events`);
  });

  test('bad JSON, not an array, not objects', () => {
    refused('[{', /^sharedSignalsReceivers must be a JSON array/);
    refused('{"id":"x"}', /^sharedSignalsReceivers must be an array/);
    refused('["x"]', /^sharedSignalsReceivers\[0\] must be an object/);
  });

  test('missing or bad fields are named', () => {
    refused([{ ...push, id: undefined }], /^sharedSignalsReceivers\[0\]\.id must be/);
    refused([{ ...push, id: 'Bad_Id' }], /^sharedSignalsReceivers\[0\]\.id must be/);
    refused([{ ...push, issuer: undefined }], /^sharedSignalsReceivers\[0\]\.issuer must be an absolute URL/);
    refused([{ ...push, delivery: undefined }], /^sharedSignalsReceivers\[0\]\.delivery must be an object/);
    refused([{ ...push, delivery: { method: 'webhook' } }], /^sharedSignalsReceivers\[0\]\.delivery\.method must be "push" or "poll"/);
    refused([{ ...push, delivery: { method: 'push' } }], /^sharedSignalsReceivers\[0\]\.delivery\.secret must be/);
    refused([{ ...push, delivery: { method: 'push', secret: 'short' } }], /^sharedSignalsReceivers\[0\]\.delivery\.secret must be at least 32 characters/);
    refused([{ ...push, delivery: { method: 'push', secret: `${secret}\r\nX: y` } }], /delivery\.secret must be a header value/);
    refused([{ ...push, delivery: { method: 'poll', authorization: 'Bearer x' } }], /^sharedSignalsReceivers\[0\]\.delivery\.endpoint is required/);
    refused([{ ...push, delivery: { method: 'poll', endpoint: 'https://t.example/poll' } }], /delivery\.authorization must be/);
    refused([{ ...push, delivery: { method: 'poll', endpoint: 'https://t.example/poll', authorization: 'x', maxEvents: 0 } }], /delivery\.maxEvents must be/);
    refused([{ ...push, subjects: ['email', 'phone_number'] }], /^sharedSignalsReceivers\[0\]\.subjects: "phone_number" is not one of/);
    refused([{ ...push, events: [] }], /^sharedSignalsReceivers\[0\]\.events must be a non-empty array/);
    refused([{ ...push, algorithms: ['HS256'] }], /^sharedSignalsReceivers\[0\]\.algorithms: "HS256" is not one of/);
    refused([{ ...push, algorithms: ['none'] }], /algorithms: "none" is not one of/);
    refused([{ ...push, maxAge: '10s' }], /^sharedSignalsReceivers\[0\]\.maxAge must be between/);
    refused([{ ...push, secret }], /^sharedSignalsReceivers\[0\]\.secret is not a known setting/);
    refused([push, push], /^sharedSignalsReceivers\[1\]\.id "acme" is used twice/);
  });

  test('http:// only on loopback; no credentials or fragment in URLs', () => {
    refused([{ ...push, issuer: 'http://idp.acme.example' }], /issuer must be https:\/\/ \(http:\/\/ only on loopback\)/);
    refused([{ ...push, jwksUri: 'http://10.0.0.1/jwks' }], /jwksUri must be https:\/\//);
    refused([{ ...push, jwksUri: 'https://user:pw@idp.example/jwks' }], /jwksUri must have no fragment or credentials/);
    refused([{ ...push, delivery: { method: 'poll', endpoint: 'http://t.example/poll', authorization: 'x' } }], /delivery\.endpoint must be https:\/\//);
    assert.equal(parseReceivers([{ ...push, issuer: 'http://127.0.0.1:9/t', jwksUri: 'http://localhost:9/jwks' }], ours).length, 1);
  });
});

test('TOKENSTILE_SSF_RECEIVERS is checked at startup, naming the variable', () => {
  const env = { TOKENSTILE_ISSUER: ours, TOKENSTILE_SSF_RECEIVERS: JSON.stringify([{ ...push, delivery: { method: 'push', secret: 'short' } }]) };
  assert.throws(() => serverConfigFromEnv(env), (err: unknown) => err instanceof ConfigError && /^TOKENSTILE_SSF_RECEIVERS\[0\]\.delivery\.secret must be at least 32/.test(err.message));
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_SSF_RECEIVERS: 'nope' }), /^ConfigError: TOKENSTILE_SSF_RECEIVERS must be a JSON array|TOKENSTILE_SSF_RECEIVERS must be a JSON array/);
  const ok = serverConfigFromEnv({ TOKENSTILE_ISSUER: ours, TOKENSTILE_SSF_RECEIVERS: JSON.stringify([push]) });
  assert.equal((ok.app as { sharedSignalsReceivers?: string }).sharedSignalsReceivers, JSON.stringify([push]));
});

test('a server given a bad receiver list does not start', async () => {
  await assert.rejects(testApp({ sharedSignalsReceivers: [{ ...push, delivery: { method: 'push', secret: 'short' } }] }), /sharedSignalsReceivers\[0\]\.delivery\.secret/);
});
