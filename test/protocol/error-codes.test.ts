// Each feature declares its error codes beside its routes; error-registry.ts merges them. These
// tests hold the merged registry to the HTTP contract and show that a conflict cannot slip through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorMessages, type ErrorCode } from '../../src/core/errors.ts';
import { authCodes } from '../../src/features/auth/auth-codes.ts';
import { oauthCodes } from '../../src/features/oauth/oauth-codes.ts';
import { commonCodes } from '../../src/protocol/common-codes.ts';
import { defineCodes, mergeCodes } from '../../src/protocol/error-codes.ts';
import { errorRegistry } from '../../src/protocol/error-registry.ts';
import { problem, statusOf } from '../../src/protocol/problem-details.ts';
import { featureCodes } from '../../src/features/feature-codes.ts';

// The "Errors" table of the HTTP contract (CONTRACT.md), status by code; it must not change.
const contract: Record<string, number> = {
  invalid_request: 400,
  weak_password: 400,
  invalid_credentials: 401,
  invalid_token: 401,
  token_expired: 401,
  session_revoked: 401,
  invalid_refresh_token: 401,
  refresh_token_reused: 401,
  csrf_failed: 403,
  not_found: 404,
  email_taken: 409,
  payload_too_large: 413,
  too_many_requests: 429,
};

test('every code of the contract maps to the contract status in the merged registry and in problem bodies', () => {
  for (const [code, status] of Object.entries(contract)) {
    assert.ok(code in errorRegistry, `${code} is declared by no feature`);
    assert.equal(statusOf[code as ErrorCode], status, code);
    assert.equal(problem(code as ErrorCode).status, status, code);
  }
});

test('the registry is exactly the union of the feature code sets, with their messages', () => {
  // Features may share a code with the same status (invalid_code: social sign-in and MFA): once in the registry.
  const declared = [...new Set([commonCodes, ...featureCodes].flatMap((set) => Object.keys(set)))].sort();
  assert.deepEqual(Object.keys(errorRegistry).sort(), declared);
  assert.equal(errorMessages.invalid_client, oauthCodes.invalid_client.title);
  assert.equal(errorMessages.weak_password, authCodes.weak_password.title);
  assert.equal(statusOf.invalid_client, 401);
});

test('two features cannot claim one code with different statuses', () => {
  const a = defineCodes({ invalid_code: { status: 401, title: 'Wrong code.' } });
  const b = defineCodes({ invalid_code: { status: 400, title: 'Wrong code.' } });
  assert.throws(() => mergeCodes([a, b]), /invalid_code.*401 and 400/);
  assert.throws(() => mergeCodes([commonCodes, defineCodes({ not_found: { status: 410, title: 'Gone.' } })]), /not_found/);
});

test('two features may share a code with the same status; the first message stands', () => {
  const merged = mergeCodes([commonCodes, defineCodes({ invalid_request: { status: 400, title: 'Other words.' } })]);
  assert.equal(merged.invalid_request.status, 400);
  assert.equal(merged.invalid_request.title, commonCodes.invalid_request.title);
});

test('ErrorCode is the literal union of the declared codes, not any string', () => {
  // @ts-expect-error: a code no feature declares is not an ErrorCode.
  const unknown: ErrorCode = 'no_such_code';
  const known: ErrorCode = 'invalid_client';
  assert.ok(unknown && known);
});
