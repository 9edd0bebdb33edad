// The transmitter's options: defaults, bounds, and the environment the server reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverConfigFromEnv } from '../../../src/cli/env-config.ts';
import { resolveSharedSignals } from '../../../src/features/ssf/ssf-options.ts';

test('off by default, with documented defaults', () => {
  const s = resolveSharedSignals(undefined);
  assert.equal(s.enabled, false);
  assert.equal(s.defaultSubjects, 'ALL');
  assert.equal(s.setLifetimeMs, 7 * 86_400_000);
  assert.equal(s.maxStreamsPerClient, 5);
  assert.equal(s.retryDelayMs, 1000);
  assert.equal(s.allowInsecureEndpoints, false);
});

test('bad values stop the start, naming the option', () => {
  assert.throws(() => resolveSharedSignals({ defaultSubjects: 'SOME' as never }), /sharedSignals.defaultSubjects/);
  assert.throws(() => resolveSharedSignals({ maxStreamsPerClient: 0 }), /sharedSignals.maxStreamsPerClient/);
  assert.throws(() => resolveSharedSignals({ setLifetime: '1s' }), /sharedSignals.setLifetime/);
  assert.throws(() => resolveSharedSignals({ enabled: 'yes' as never }), /sharedSignals.enabled/);
});

test('TOKENSTILE_SSF and its companions are read from the environment, and named when wrong', () => {
  assert.equal(serverConfigFromEnv({}).app.sharedSignals?.enabled, false);
  const on = serverConfigFromEnv({ TOKENSTILE_SSF: 'true', TOKENSTILE_SSF_DEFAULT_SUBJECTS: 'NONE', TOKENSTILE_SSF_SET_LIFETIME: '2d' }).app.sharedSignals!;
  assert.equal(on.enabled, true);
  assert.equal(on.defaultSubjects, 'NONE');
  assert.equal(resolveSharedSignals(on).setLifetimeMs, 2 * 86_400_000);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_SSF: 'yes' }), /TOKENSTILE_SSF must be one of true, false/);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_SSF_SET_LIFETIME: '5s' }), /TOKENSTILE_SSF_SET_LIFETIME/);
});
