// src/protocol holds the wire formats the verify SDK answers with (problem+json, RFC 6750
// challenges, Bearer parsing) apart from src/http, so that @tokenstile/verify ships no Fastify
// code. Until src/http imports them from there, the server's copies must answer the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { errorMessages, type ErrorCode } from '../../src/core/errors.ts';
import { bearerToken as serverBearerToken } from '../../src/http/authenticate.ts';
import * as server from '../../src/http/problem.ts';
import { bearerToken } from '../../src/protocol/bearer-token.ts';
import * as protocol from '../../src/protocol/problem-details.ts';

const codes = Object.keys(errorMessages) as ErrorCode[];

test('every error code has the same status, problem body and challenge in src/protocol as in the server', () => {
  assert.ok(codes.length >= 20, codes.join(', '));
  assert.deepEqual(protocol.statusOf, server.statusOf);
  assert.equal(protocol.problemContentType, server.problemContentType);
  for (const code of codes) {
    assert.deepEqual(protocol.problem(code), server.problem(code), code);
    assert.deepEqual(protocol.problem(code, 'detail', 'email'), server.problem(code, 'detail', 'email'), code);
    for (const missing of [true, false]) assert.equal(protocol.challengeFor(code, missing), server.challengeFor(code, missing), code);
  }
});

test('bearerToken reads every Authorization header as the server does', () => {
  for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Bearer abc', 'bearer \t abc \t', 'Bearer \u00a0abc', 'Basic abc', 'Bearerabc', 'BEARER a b']) {
    assert.equal(bearerToken(header), serverBearerToken(header), JSON.stringify(header));
  }
  assert.equal(bearerToken('Bearer  x.y.z '), 'x.y.z');
  const unit = fc.constantFrom('B', 'b', 'e', 'a', 'r', ' ', '\t', '\u00a0', 'x', '.');
  fc.assert(fc.property(fc.string({ unit, maxLength: 16 }), (header) => bearerToken(header) === serverBearerToken(header)));
});
