import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appAdapter, testApp } from '../helpers.ts';

/** The API viewer at /docs is the Fastify server's (@fastify/swagger-ui); the other adapters serve /docs/json only. */
const viewer = appAdapter === 'fastify' ? false : `the /docs viewer is served by the Fastify adapter only; this run uses the ${appAdapter} adapter`;

test('the API viewer gets a strict CSP, no framing, no referrer', { skip: viewer }, async () => {
  const t = await testApp({ docs: true });
  try {
    let page = await t.app.inject({ method: 'GET', url: '/docs' });
    if (page.statusCode === 302) page = await t.app.inject({ method: 'GET', url: String(page.headers.location) });
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) assert.ok(csp.includes(directive), directive);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'the page has no inline script for the CSP to block');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
  } finally {
    await t.close();
  }
});

test('every response gets nosniff; HTML (the account page) no framing and no referrer, and nothing else a CSP', async () => {
  const t = await testApp({ docs: true });
  try {
    for (const url of ['/healthz', '/auth/me', '/.well-known/jwks.json', '/nope', '/docs/json']) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['content-security-policy'], undefined, `${url} is not HTML`);
    }
    const page = await t.app.inject({ method: 'GET', url: '/account' });
    assert.equal(page.statusCode, 200, 'the account page is built (npm run build)');
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
  } finally {
    await t.close();
  }
});
