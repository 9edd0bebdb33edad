import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { parseProviders } from '../../../src/features/social/provider-options.ts';

test('an OpenID Connect provider by issuer gets openid email profile and its id as name', () => {
  const [p] = parseProviders('[{"id":"acme","issuer":"https://login.acme.example","clientId":"c","clientSecret":"s"}]');
  assert.equal(p!.kind, 'oidc');
  assert.deepEqual(p!.scopes, ['openid', 'email', 'profile']);
  assert.equal(p!.name, 'acme');
});

test('the presets: google is OpenID Connect at accounts.google.com, github plain OAuth 2.0 with its endpoints', () => {
  const [google, github, ghes] = parseProviders([
    { id: 'google', preset: 'google', clientId: 'c', clientSecret: 's' },
    { id: 'github', preset: 'github', clientId: 'c', clientSecret: 's', scopes: ['read:user'] },
    { id: 'ghes', preset: 'github', clientId: 'c', clientSecret: 's', serverUrl: 'https://github.example.com' },
  ]);
  assert.equal(google!.kind === 'oidc' && google!.issuer.href, 'https://accounts.google.com/');
  assert.equal(google!.name, 'Google');
  assert.equal(github!.kind === 'github' && github!.endpoints.token.href, 'https://github.com/login/oauth/access_token');
  assert.deepEqual(github!.scopes, ['read:user']);
  assert.equal(ghes!.kind === 'github' && ghes!.endpoints.api.href, 'https://github.example.com/api/v3/');
});

test('openid is always asked for, even when the scopes leave it out', () => {
  const [p] = parseProviders([{ id: 'a', issuer: 'https://a.example', clientId: 'c', clientSecret: 's', scopes: ['email'] }]);
  assert.deepEqual(p!.scopes, ['openid', 'email']);
});

test('bad entries stop the start with a message naming the entry, never the secret', () => {
  const bad: Array<[unknown, RegExp]> = [
    ['not json', /JSON array/],
    ['{}', /list/],
    [[{ id: 'Bad Id', issuer: 'https://a.example', clientId: 'c', clientSecret: 's' }], /\[0\]\.id/],
    [[{ id: 'session', issuer: 'https://a.example', clientId: 'c', clientSecret: 's' }], /taken by a route/],
    [[{ id: 'a', clientId: 'c', clientSecret: 's' }], /exactly one of issuer and preset/],
    [[{ id: 'a', issuer: 'https://a.example', preset: 'google', clientId: 'c', clientSecret: 's' }], /exactly one/],
    [[{ id: 'a', preset: 'facebook', clientId: 'c', clientSecret: 's' }], /preset must be/],
    [[{ id: 'a', issuer: 'http://idp.example', clientId: 'c', clientSecret: 's' }], /https/],
    [[{ id: 'a', issuer: 'https://a.example', clientId: 'c' }], /clientSecret/],
    [[{ id: 'a', issuer: 'https://a.example', clientId: 'c', clientSecret: 'hunter2-secret', extra: 1 }], /unknown field "extra"/],
    [[{ id: 'a', issuer: 'https://a.example', clientId: 'c', clientSecret: 's' }, { id: 'a', preset: 'github', clientId: 'c', clientSecret: 's' }], /used twice/],
    [[{ id: 'a', issuer: 'https://a.example', clientId: 'c', clientSecret: 's', serverUrl: 'https://x.example' }], /github preset only/],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => parseProviders(value as string), (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('hunter2'), JSON.stringify(value));
  }
});

test('plain http is accepted on loopback only', () => {
  assert.equal(parseProviders([{ id: 'a', issuer: 'http://127.0.0.1:4000', clientId: 'c', clientSecret: 's' }]).length, 1);
  assert.throws(() => parseProviders([{ id: 'a', issuer: 'http://10.0.0.1:4000', clientId: 'c', clientSecret: 's' }]), ConfigError);
});
