import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { problemOf } from '../helpers.ts';

/** The codes whose 401 carries `error="invalid_token"` in its RFC 6750 challenge. */
const accessTokenCodes = new Set(['invalid_token', 'token_expired', 'session_revoked']);

/**
 * Asserts an RFC 9457 answer with `status` and `code`: problem+json, all five members, and no
 * trace of a stack. Returns the body.
 */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string): ReturnType<typeof problemOf> {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  const body = problemOf(res);
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.type, 'string');
  assert.ok(body.type.length > 0);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(typeof body.detail, 'string');
  assertNoStack(res.body);
  return body;
}

/**
 * Asserts a 400 `invalid_request` that names `field` (the `field` member, and the field in
 * `detail`). Returns the detail.
 */
export function expectFieldProblem(res: LightMyRequestResponse, field: string): string {
  const body = expectProblem(res, 400, 'invalid_request') as { field?: unknown; detail: string };
  assert.equal(body.field, field, `expected the field ${field} to be named: ${res.body}`);
  assert.ok(body.detail.includes(field), `the detail does not name ${field}: ${body.detail}`);
  return body.detail;
}

/** Asserts a 401 for a bad access token, with the `error="invalid_token"` challenge. */
export function expectTokenRefused(res: LightMyRequestResponse, code: 'invalid_token' | 'token_expired' | 'session_revoked'): void {
  assert.ok(accessTokenCodes.has(code));
  expectProblem(res, 401, code);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  assert.match(challenge, /^Bearer /, `WWW-Authenticate: ${challenge}`);
  assert.ok(challenge.includes('error="invalid_token"'), `WWW-Authenticate: ${challenge}`);
}

/** Asserts that a response body has no stack trace or source location in it. */
export function assertNoStack(text: string): void {
  assert.ok(!/"stack"/.test(text), `body has a stack: ${text}`);
  assert.ok(!/\bat [^\s]+ \(|\n\s+at |\.ts:\d+:\d+/.test(text), `body has a stack frame: ${text}`);
}
