import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { uuidv7 } from '../../src/core/ids.ts';
import { isOpaqueHandle, OpaqueTokenCodec } from '../../src/core/opaque-tokens.ts';

const t0 = Date.UTC(2026, 0, 1);
const sessionId = uuidv7(t0);
const userId = uuidv7(t0 + 1);
const codec = new OpaqueTokenCodec(randomBytes(32));

describe('opaque access handles', () => {
  test('a minted handle parses back to its session, its user and the hash the store keeps', () => {
    const { token, hash } = codec.mint(sessionId, userId, 'tsr_refresh-one');
    assert.match(token, /^tsa_[A-Za-z0-9_-]{108}$/);
    assert.ok(isOpaqueHandle(token));
    assert.deepEqual(codec.parse(token), { sessionId, userId, hash });
    // The stored hash is SHA-256 of the secret, which is in the handle but never the handle itself.
    const secret = Buffer.from(token.slice(4), 'base64url').subarray(33, 65);
    assert.equal(hash, createHash('sha256').update(secret).digest('base64url'));
    assert.ok(!token.includes(hash));
  });

  test('the handle follows from the refresh token it comes with: same refresh token, same handle', () => {
    const a = codec.mint(sessionId, userId, 'tsr_refresh-one');
    assert.deepEqual(codec.mint(sessionId, userId, 'tsr_refresh-one'), a);
    assert.notEqual(codec.mint(sessionId, userId, 'tsr_refresh-two').hash, a.hash);
  });

  test('a handle made under another server key is refused', () => {
    const other = new OpaqueTokenCodec(randomBytes(32));
    assert.equal(codec.parse(other.mint(sessionId, userId, 'tsr_x').token), null);
  });

  test('changing any single character of a handle makes it unrecognisable', () => {
    const { token } = codec.mint(sessionId, userId, 'tsr_refresh-one');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < token.length; i++) {
      const replacement = alphabet[(alphabet.indexOf(token[i]!) + 1) % alphabet.length] ?? 'A';
      const altered = token.slice(0, i) + replacement + token.slice(i + 1);
      assert.equal(codec.parse(altered), null, `position ${i}`);
    }
  });

  test('wrong prefix, length, version or another spelling of the same bytes are refused', () => {
    const { token } = codec.mint(sessionId, userId, 'tsr_refresh-one');
    assert.equal(codec.parse(`tsr_${token.slice(4)}`), null);
    assert.equal(codec.parse(token.slice(0, -1)), null);
    assert.equal(codec.parse(`${token}A`), null);
    const raw = Buffer.from(token.slice(4), 'base64url');
    raw[0] = 2;
    assert.equal(codec.parse(`tsa_${raw.toString('base64url')}`), null);
    // Base64 padding or the standard alphabet's characters are other spellings of the same bytes.
    assert.equal(codec.parse(`${token}==`), null);
    let n = 0;
    let urlSafe = token;
    while (!/[-_]/.test(urlSafe)) urlSafe = codec.mint(sessionId, userId, `tsr_${n++}`).token;
    assert.notEqual(codec.parse(urlSafe), null);
    assert.equal(codec.parse(urlSafe.replace(/-/g, '+').replace(/_/g, '/')), null);
  });

  test('arbitrary input is refused, never thrown on', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => codec.parse(s) === null && codec.parse(`tsa_${s}`) === null),
      { numRuns: 2000 },
    );
  });

  test('a remembered handle parses the same, and the memory is bounded', () => {
    const small = new OpaqueTokenCodec(randomBytes(32), 2);
    const handles = ['a', 'b', 'c'].map((r) => small.mint(sessionId, userId, r));
    for (const h of handles) assert.deepEqual(small.parse(h.token), { sessionId, userId, hash: h.hash });
    for (const h of handles) assert.deepEqual(small.parse(h.token), { sessionId, userId, hash: h.hash }, 'again, from memory or not');
    const altered = handles[0]!.token.slice(0, -2) + (handles[0]!.token.at(-2) === 'A' ? 'B' : 'A') + handles[0]!.token.at(-1);
    assert.equal(small.parse(altered), null);
  });

  test('a server key shorter than 32 bytes is a programming error', () => {
    assert.throws(() => new OpaqueTokenCodec(randomBytes(16)), /at least 32 bytes/);
  });
});
