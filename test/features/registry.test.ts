// The feature registry (src/features/index.ts) and the light list of its code sets
// (src/features/feature-codes.ts, from which ErrorCode is derived) must agree; a mounted feature's
// codes are answered with their status.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featureCodes } from '../../src/features/feature-codes.ts';
import { features } from '../../src/features/index.ts';
import { codeSpec, errorRegistry, registerCodes } from '../../src/protocol/error-registry.ts';
import { defineCodes } from '../../src/protocol/error-codes.ts';
import { problem } from '../../src/protocol/problem-details.ts';
import type { ErrorCode } from '../../src/core/errors.ts';

test('feature-codes.ts lists exactly the code sets of the registry entries, in their order', () => {
  const fromEntries = features.flatMap((f) => ('codes' in f ? [f.codes] : []));
  assert.equal(fromEntries.length, featureCodes.length, 'add the new feature\'s code set to src/features/feature-codes.ts');
  fromEntries.forEach((codes, i) => assert.equal(codes, featureCodes[i], `entry ${i}`));
  for (const set of featureCodes) for (const code of Object.keys(set)) assert.ok(code in errorRegistry, code);
});

test('registry entries have unique names, and the contract\'s areas are all there', () => {
  const names: string[] = features.map((f) => f.name);
  assert.equal(new Set(names).size, names.length);
  for (const name of ['auth', 'well-known', 'oauth', 'revocation-stream']) assert.ok(names.includes(name), name);
});

test('a feature outside the registry gets its codes answered once registered; a clash of statuses throws', () => {
  const codes = defineCodes({ registry_test_refused: { status: 403, title: 'Refused by a test.' } });
  assert.equal(codeSpec('registry_test_refused'), undefined);
  assert.throws(() => problem('registry_test_refused' as ErrorCode), /declared by no mounted feature/);
  registerCodes(codes);
  registerCodes(codes);
  assert.deepEqual(problem('registry_test_refused' as ErrorCode), {
    type: 'urn:tokenstile:error:registry_test_refused', title: 'Refused by a test.', status: 403, code: 'registry_test_refused', detail: 'Refused by a test.',
  });
  assert.throws(() => registerCodes(defineCodes({ registry_test_refused: { status: 401, title: 'x' } })), /403 and 401/);
  assert.throws(() => registerCodes(defineCodes({ not_found: { status: 410, title: 'Gone.' } })), /404 and 410/);
});
