// How revocation causes read in CAEP session-revoked events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ssfRevocationCause } from '../../../src/features/ssf-receiver/set-processor.ts';
import { initiatorOf, reasonOf } from '../../../src/features/ssf/ssf-events.ts';

test('sessions ended because an upstream transmitter said so are initiated by the system, not the user', () => {
  // The receiver's revocations feed the transmitter too (a relay): a downstream receiver must not
  // read them as the user signing out.
  assert.equal(initiatorOf(ssfRevocationCause), 'system');
  assert.equal(initiatorOf('backchannel_logout'), 'system');
  assert.equal(initiatorOf('logout'), 'user');
  assert.equal(initiatorOf('refresh_reuse'), 'policy');
  assert.doesNotMatch(reasonOf(ssfRevocationCause), /ssf_session_revoked/, 'an English reason, not the cause code');
});
