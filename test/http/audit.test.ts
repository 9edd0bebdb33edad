import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { bearer, fastHasher, goodPassword, issuer, tempDir, testApp, uniqueEmail } from '../helpers.ts';

const ua = { 'user-agent': 'AuditTest/1.0' };

test('the audit log records who did what from where, with the cause of every ended session, and no secret', async () => {
  const t = await testApp();
  try {
    const email = uniqueEmail();
    const phone = await t.signUp(email, goodPassword, ua);
    const laptop = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: ua })).json();
    await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password 1' }, headers: ua });
    await t.app.inject({ method: 'POST', url: '/auth/password', headers: { ...bearer(phone.accessToken), ...ua }, payload: { currentPassword: goodPassword, newPassword: 'brand new pass 9' } });
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: { ...bearer(phone.accessToken), ...ua }, payload: { scope: 'local' } });
    await new Promise((r) => setImmediate(r)); // audit writes are in the background
    const entries = await t.app.tokenstile.audit({ userId: phone.user.id, limit: 50 });
    const summary = entries.map((e) => [e.type, e.detail.cause ?? e.detail.scope ?? e.detail.reason ?? '']).reverse();
    assert.deepEqual(summary, [
      ['registered', ''],
      ['login_succeeded', ''],
      ['login_succeeded', ''],
      ['login_failed', 'invalid_credentials'], // a known account: the failure is in its owner's trail
      ['password_changed', ''],
      ['session_revoked', 'password_change'],
      ['logged_out', 'local'],
      ['session_revoked', 'logout'],
    ]);
    const revokedByChange = entries.find((e) => e.detail.cause === 'password_change')!;
    assert.equal(revokedByChange.sessionId, laptop.session.id, 'the laptop session ended by the change');
    for (const e of entries.filter((x) => x.type !== 'registered')) {
      assert.equal(e.ip, '127.0.0.1', e.type);
      assert.equal(e.userAgent, 'AuditTest/1.0', e.type);
    }
    const failed = (await t.app.tokenstile.audit({ limit: 50 })).find((e) => e.type === 'login_failed')!;
    assert.equal(failed.detail.account, email);
    assert.equal(failed.userId, phone.user.id);
    assert.equal(failed.detail.reason, 'invalid_credentials');
    // What is typed in the email field is recorded only when it is an email (it may be a password).
    await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'my secret pass 1', password: 'x' }, headers: ua });
    await new Promise((r) => setImmediate(r));
    const odd = (await t.app.tokenstile.audit({ limit: 1 }))[0]!;
    assert.equal(odd.type, 'login_failed');
    assert.equal(odd.detail.account, '(not an email)');
    assert.equal(JSON.stringify(odd).includes('my secret pass'), false);
    const everything = JSON.stringify(await t.app.tokenstile.audit({ limit: 100 }));
    for (const secret of [goodPassword, 'wrong password 1', 'brand new pass 9', phone.accessToken, phone.refreshToken, laptop.refreshToken]) {
      assert.equal(everything.includes(secret), false);
    }
  } finally {
    await t.close();
  }
});

test('refresh-token reuse and the generated signing key are audited', async () => {
  const t = await testApp();
  try {
    const s = await t.signUp(undefined, undefined, ua);
    await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
    t.clock.advance(11_000);
    await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken }, headers: ua });
    await new Promise((r) => setImmediate(r));
    const all = await t.app.tokenstile.audit({ limit: 50 });
    const reuse = all.find((e) => e.type === 'refresh_reuse_detected')!;
    assert.equal(reuse.sessionId, s.session.id);
    assert.equal(reuse.userAgent, 'AuditTest/1.0');
    assert.equal(all.find((e) => e.type === 'session_revoked')?.detail.cause, 'refresh_reuse');
    const key = all.find((e) => e.type === 'key_generated')!;
    assert.equal(key.detail.alg, 'ES256');
    assert.equal(key.detail.kid, t.app.tokenstile.jwks().keys[0]!.kid);
  } finally {
    await t.close();
  }
});

test('tokenstile audit --user shows a user’s trail, newest first', async () => {
  const dir = tempDir();
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${dir.path}/a.db`, TOKENSTILE_ISSUER: issuer };
  const t = await testApp({ databaseUrl: env.TOKENSTILE_DATABASE_URL, passwordHasher: fastHasher });
  try {
    const email = uniqueEmail();
    const s = await t.signUp(email, goodPassword, ua);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: { scope: 'global' } });
    await new Promise((r) => setImmediate(r));
    const out: string[] = [];
    const io: CliIo = { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`), readStdin: async () => '' };
    assert.equal(await runCli(['audit', '--user', email, '--json'], io, env), 0, out.join('\n'));
    const types = out.map((l) => JSON.parse(l).type);
    assert.deepEqual(types, ['session_revoked', 'logged_out', 'login_succeeded', 'registered']);
    out.length = 0;
    assert.equal(await runCli(['audit', '--user', email, '--limit', '1'], io, env), 0);
    assert.equal(out.length, 1);
    assert.match(out[0]!, /session_revoked .* cause="logout_global"/);
    out.length = 0;
    assert.equal(await runCli(['audit', '--limit', 'many'], io, env), 2, 'wrong usage');
  } finally {
    await t.close();
    dir.cleanup();
  }
});
