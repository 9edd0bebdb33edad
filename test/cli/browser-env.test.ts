// The cookie-transport settings read from the environment.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverConfigFromEnv } from '../../src/cli/env-config.ts';

test('TOKENSTILE_COOKIE_SAMESITE, TOKENSTILE_ALLOWED_ORIGINS and TOKENSTILE_ACCOUNT_PAGE are read, with secure defaults', () => {
  const defaults = serverConfigFromEnv({}).app;
  assert.equal(defaults.cookieSameSite, undefined, 'lax by default (decided where the app is built)');
  assert.equal(defaults.allowedOrigins, undefined, 'the issuer origin by default');
  assert.equal(defaults.accountPage, true);
  const set = serverConfigFromEnv({
    TOKENSTILE_COOKIE_SAMESITE: 'Strict',
    TOKENSTILE_ALLOWED_ORIGINS: ' https://app.example.com/ , http://localhost:5173,',
    TOKENSTILE_ACCOUNT_PAGE: 'off',
  }).app;
  assert.equal(set.cookieSameSite, 'strict');
  assert.deepEqual(set.allowedOrigins, ['https://app.example.com', 'http://localhost:5173']);
  assert.equal(set.accountPage, false);
});

test('bad values stop the server, naming the variable', () => {
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_COOKIE_SAMESITE: 'none' }), /TOKENSTILE_COOKIE_SAMESITE must be lax or strict/);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_ALLOWED_ORIGINS: 'app.example.com' }), /TOKENSTILE_ALLOWED_ORIGINS: "app\.example\.com" is not an origin/);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_ALLOWED_ORIGINS: 'https://app.example.com/login' }), /TOKENSTILE_ALLOWED_ORIGINS: .* no path/);
  assert.throws(() => serverConfigFromEnv({ TOKENSTILE_ACCOUNT_PAGE: 'maybe' }), /TOKENSTILE_ACCOUNT_PAGE must be on or off/);
});
