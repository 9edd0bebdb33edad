import { test } from 'node:test';
import assert from 'node:assert/strict';
import { challengeOf, checkAssertion, checkRegistration, creationOptions, relyingParty, requestOptions } from '../../../src/features/passkeys/webauthn.ts';
import { SoftAuthenticator } from './soft-authenticator.ts';

const rp = relyingParty('http://localhost:3000', ['http://localhost:3000']);
const user = { id: '0190a0b0-0000-7000-8000-000000000001', email: 'ada@example.com', name: 'Ada' };

async function registered() {
  const device = new SoftAuthenticator('http://localhost:3000');
  const options = await creationOptions(rp, user, 'tso_challenge-one', []);
  const answer = device.register(options);
  assert.equal(challengeOf(answer), 'tso_challenge-one');
  const key = await checkRegistration(rp, answer, 'tso_challenge-one');
  assert.ok(key);
  return { device, key };
}

test('the relying party is the issuer host; origins add the allowed ones', () => {
  const r = relyingParty('https://auth.example.com/base', ['https://app.example.com']);
  assert.equal(r.id, 'auth.example.com');
  assert.deepEqual(r.origins, ['https://auth.example.com', 'https://app.example.com']);
});

test('a software authenticator registers and signs in through the library', async () => {
  const { device, key } = await registered();
  assert.equal(key.credentialId, (device.credentials[0]!.id).toString('base64url'));
  const options = await requestOptions(rp, 'tso_challenge-two');
  const assertion = device.authenticate(options);
  assert.equal(challengeOf(assertion), 'tso_challenge-two');
  const ok = await checkAssertion(rp, assertion, 'tso_challenge-two', key);
  assert.deepEqual(ok, { counter: 1, userVerified: true });
});

test('refused: another challenge, origin, rp id, key, type, or a counter that did not move', async () => {
  const { device, key } = await registered();
  const options = await requestOptions(rp, 'tso_c');
  assert.equal(await checkAssertion(rp, device.authenticate(options), 'tso_other', key), null);
  assert.equal(await checkAssertion(rp, device.authenticate(options, { origin: 'http://evil.test' }), 'tso_c', key), null);
  assert.equal(await checkAssertion(rp, device.authenticate(options, { rpId: 'evil.test' }), 'tso_c', key), null);
  assert.equal(await checkAssertion(rp, device.authenticate(options, { wrongKey: true }), 'tso_c', key), null);
  assert.equal(await checkAssertion(rp, device.authenticate(options, { type: 'webauthn.create' }), 'tso_c', key), null);
  assert.equal(await checkAssertion(rp, device.authenticate(options, { signCount: 3 }), 'tso_c', { ...key, counter: 5 }), null, 'cloned authenticator');
  assert.equal(await checkRegistration(rp, device.register(await creationOptions(rp, user, 'tso_r', [])), 'tso_x'), null);
  assert.equal(await checkRegistration(rp, { nonsense: true }, 'tso_x'), null);
  assert.equal(challengeOf({ response: { clientDataJSON: 'not json' } }), null);
});
