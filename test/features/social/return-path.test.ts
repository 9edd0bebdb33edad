import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReturnTo, withOutcome } from '../../../src/features/social/return-path.ts';

const own = 'https://auth.example.com';
const allowed = new Set(['https://app.example.com']);

test('paths here and URLs on allowed origins are accepted, without their fragment', () => {
  assert.equal(checkReturnTo('/account', own, allowed), 'https://auth.example.com/account');
  assert.equal(checkReturnTo('/app/home?tab=2#x', own, allowed), 'https://auth.example.com/app/home?tab=2');
  assert.equal(checkReturnTo('https://app.example.com/signed-in', own, allowed), 'https://app.example.com/signed-in');
  assert.equal(checkReturnTo('https://auth.example.com/x', own, allowed), 'https://auth.example.com/x');
});

test('open-redirect attempts are refused', () => {
  for (const attempt of [
    'https://evil.example/',
    '//evil.example/path',
    '/\\evil.example',
    '\\\\evil.example',
    '/%0d%0a//evil.example'.replace('%0d%0a', '\r\n'),
    'javascript:alert(1)',
    'data:text/html,hi',
    'https://app.example.com@evil.example/',
    'https://user:pw@app.example.com/',
    'https://app.example.com.evil.example/',
    'http://app.example.com/',
    ' /account',
    'account',
    '',
    `/${'a'.repeat(3000)}`,
  ]) {
    assert.equal(checkReturnTo(attempt, own, allowed), null, JSON.stringify(attempt));
  }
});

test('the outcome replaces the fragment and is URL-encoded', () => {
  assert.equal(withOutcome('https://app.example.com/x?y=1', { tokenstile_error: 'link_required', provider: 'a b' }), 'https://app.example.com/x?y=1#tokenstile_error=link_required&provider=a+b');
});
