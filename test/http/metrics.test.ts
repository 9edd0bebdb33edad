import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearer, problemOf, testApp } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

test('/metrics counts requests by route pattern, logins, refreshes, reuse and revocations, without secrets', async () => {
  const t = await testApp({ metrics: true });
  try {
    const s = await t.signUp();
    await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.user.email, password: 'wrong password 1' } });
    const r1 = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
    t.clock.advance(11_000);
    await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } }); // reuse
    // The reuse ended the session, so this is refused; what matters is the route label.
    await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${s.session.id}`, headers: bearer(r1.json().accessToken) });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const text = res.body;
    const value = (line: RegExp) => Number(text.match(line)?.[1] ?? NaN);
    assert.equal(value(/^tokenstile_logins_total\{outcome="ok"\} (\d+)$/m), 1);
    assert.equal(value(/^tokenstile_logins_total\{outcome="invalid_credentials"\} (\d+)$/m), 1);
    assert.equal(value(/^tokenstile_refreshes_total\{outcome="ok"\} (\d+)$/m), 1);
    assert.equal(value(/^tokenstile_refresh_reuse_detected_total (\d+)$/m), 1);
    assert.equal(value(/^tokenstile_sessions_revoked_total (\d+)$/m), 1);
    assert.equal(value(/^tokenstile_revocation_list_entries (\d+)$/m), 1);
    assert.match(text, /tokenstile_http_requests_total\{method="DELETE",route="\/auth\/sessions\/:id",status="401"\} 1/);
    assert.match(text, /tokenstile_store_operation_seconds_count\{operation="sessions.rotate",ok="true"\} \d+/);
    for (const secret of [s.accessToken, s.refreshToken, s.session.id, s.user.email]) assert.equal(text.includes(secret), false);
  } finally {
    await t.close();
  }
});

test('a failing store answers 503 problem+json with Retry-After, not a 500', async () => {
  const t = await testApp();
  try {
    const s = await t.signUp();
    await internals(t.app.tokenstile).stores.close(); // the database goes away under the server
    const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
    assert.equal(res.statusCode, 503);
    assert.equal(problemOf(res).code, 'service_unavailable');
    assert.equal(res.headers['retry-after'], '1');
    assert.doesNotMatch(res.body, /sqlite|database is not open/i, 'no driver message');
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
  } finally {
    await t.close().catch(() => {});
  }
});
