import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEntry } from '../../src/core/audit-log.ts';
import type { AuthEvent } from '../../src/core/events.ts';
import { bearer, testApp, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';

const phone = { 'user-agent': 'Phone/1.0' };

const refresh = (t: TestApp, refreshToken: string, headers: Record<string, string>, remoteAddress = '127.0.0.1') =>
  t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken }, headers, remoteAddress });

/** The user's audit entries of `type`, once at least one is written (writes are in the background). */
async function auditEntries(t: TestApp, userId: string, type: string): Promise<AuditEntry[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = (await t.app.tokenstile.audit({ userId, limit: 100 })).filter((e) => e.type === type);
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function withApp(fn: (t: TestApp, events: AuthEvent[]) => Promise<void>): Promise<void> {
  const events: AuthEvent[] = [];
  const t = await testApp({ onEvent: (e) => events.push(e) });
  try {
    await fn(t, events);
  } finally {
    await t.close();
  }
}

describe('refresh retries within the grace window', () => {
  test('a retry from the client that spent the token gets the same successor, and is audited with its IP and user agent', () =>
    withApp(async (t, events) => {
      const s = await t.signUp(undefined, undefined, phone);
      const first = await refresh(t, s.refreshToken, phone);
      assert.equal(first.statusCode, 200, first.body);
      // The answer was lost; the phone, now on another network, asks again.
      const retry = await refresh(t, s.refreshToken, phone, '198.51.100.20');
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal((retry.json() as TokenBody).refreshToken, (first.json() as TokenBody).refreshToken, 'one lineage');
      const [entry] = await auditEntries(t, s.user.id, 'refresh_grace_retry');
      assert.ok(entry, 'the grace retry is in the audit trail');
      assert.equal(entry.sessionId, s.session.id);
      assert.equal(entry.ip, '198.51.100.20');
      assert.equal(entry.userAgent, 'Phone/1.0');
      assert.ok(events.some((e) => e.type === 'refresh_grace_retry' && e.sessionId === s.session.id && e.ip === '198.51.100.20'));
      assert.equal(JSON.stringify(await t.app.tokenstile.audit({ limit: 100 })).includes(s.refreshToken), false, 'no token in the trail');
    }));

  test('the spent token from another client inside the grace window is a replay: refused, the session revoked, and audited', () =>
    withApp(async (t) => {
      const s = await t.signUp(undefined, undefined, phone);
      const first = await refresh(t, s.refreshToken, phone);
      assert.equal(first.statusCode, 200, first.body);
      const successor = first.json() as TokenBody;
      const thief = await refresh(t, s.refreshToken, { 'user-agent': 'curl/8.0' }, '203.0.113.66');
      expectProblem(thief, 401, 'refresh_token_reused');
      assert.equal(JSON.stringify(thief.json()).includes('tsr_'), false, 'no successor handed out');
      // The session is over for everyone: the successor and its access token are refused.
      expectProblem(await refresh(t, successor.refreshToken, phone), 401, 'invalid_refresh_token');
      expectTokenRefused(await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(successor.accessToken) }), 'session_revoked');
      const [entry] = await auditEntries(t, s.user.id, 'refresh_reuse_detected');
      assert.ok(entry, 'the replay is in the audit trail');
      assert.equal(entry.detail.reason, 'grace_retry_from_another_client');
      assert.equal(entry.ip, '203.0.113.66');
      assert.equal(entry.userAgent, 'curl/8.0');
      assert.equal((await auditEntries(t, s.user.id, 'session_revoked'))[0]?.detail.cause, 'refresh_reuse');
    }));
});
