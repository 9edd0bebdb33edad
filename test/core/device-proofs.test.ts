import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { DeviceProofs, deviceProofKey, deviceProofLifetimeMs } from '../../src/core/device-proofs.ts';
import { secureRandom } from '../../src/core/ids.ts';

const now = Date.UTC(2026, 0, 1);
const proofs = new DeviceProofs(deviceProofKey(randomBytes(32)), secureRandom);

describe('device proofs', () => {
  test('a proof names its device for the account it was issued for, and is kept on renewal', () => {
    const proof = proofs.issue('ann@example.com', now);
    const id = proofs.verify('ann@example.com', proof, now + 1000);
    assert.match(id ?? '', /^[A-Za-z0-9_-]{22}$/);
    assert.equal(proofs.verify('ann@example.com', proofs.issue('ann@example.com', now + 5000, id!), now + 6000), id);
    assert.notEqual(proofs.verify('ann@example.com', proofs.issue('ann@example.com', now), now), id, 'a new device gets a new id');
  });

  test('refused: another account, another server key, a tampered or truncated proof, an old one, garbage', () => {
    const proof = proofs.issue('ann@example.com', now);
    assert.equal(proofs.verify('bob@example.com', proof, now), null);
    assert.equal(new DeviceProofs(deviceProofKey(randomBytes(32)), secureRandom).verify('ann@example.com', proof, now), null);
    const [v, id, issued, tag] = proof.split('.');
    assert.equal(proofs.verify('ann@example.com', [v, id, String(Number(issued) + 1), tag].join('.'), now), null, 'a later issue time is not forgeable');
    assert.equal(proofs.verify('ann@example.com', proof.slice(0, -1), now), null);
    assert.equal(proofs.verify('ann@example.com', `${proof}.x`, now), null);
    assert.equal(proofs.verify('ann@example.com', proof, now + deviceProofLifetimeMs + 1000), null, 'too old');
    for (const junk of [undefined, null, '', 'v1', 42, 'x'.repeat(500)]) assert.equal(proofs.verify('ann@example.com', junk, now), null);
  });
});
