import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appAdapter, testApp, type TestApp } from '../helpers.ts';

let t: TestApp;
before(async () => {
  t = await testApp({ docs: true });
});
after(() => t.close());

test('the OpenAPI document, generated from the route schemas, lists every route of the contract', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.equal(doc.openapi, '3.1.0');
  const expected: Array<[string, string]> = [
    ['/auth/register', 'post'], ['/auth/login', 'post'], ['/auth/refresh', 'post'], ['/auth/logout', 'post'],
    ['/auth/me', 'get'], ['/auth/me', 'patch'], ['/auth/sessions', 'get'], ['/auth/sessions/{id}', 'delete'],
    ['/auth/password', 'post'], ['/.well-known/jwks.json', 'get'], ['/healthz', 'get'], ['/readyz', 'get'],
  ];
  for (const [path, method] of expected) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  const login = doc.paths['/auth/login'].post;
  assert.deepEqual(login.requestBody.content['application/json'].schema.required, ['email', 'password']);
  // Two shapes: tokens in the body (header transport) or the CSRF token (cookie transport).
  const variants: Array<{ properties: Record<string, unknown> }> = login.responses['200'].content['application/json'].schema.anyOf;
  assert.ok(variants.some((v) => v.properties.refreshToken));
  assert.ok(variants.some((v) => v.properties.csrfToken && !v.properties.refreshToken));
  assert.deepEqual(doc.paths['/auth/me'].get.security, [{ bearerAuth: [] }]);
  assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
});

test('/docs serves a viewer whose assets come from this server (works offline)', { skip: appAdapter === 'fastify' ? false : `the viewer is the Fastify adapter's; the ${appAdapter} adapter serves /docs/json only` }, async () => {
  const res = await t.app.inject({ method: 'GET', url: '/docs' });
  const html = res.statusCode === 302 ? (await t.app.inject({ method: 'GET', url: String(res.headers.location) })).body : res.body;
  assert.match(html, /swagger-ui/i);
  const external = [...html.matchAll(/(?:src|href)="(https?:[^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(external, []);
  const css = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' });
  assert.equal(css.statusCode, 200);
});
