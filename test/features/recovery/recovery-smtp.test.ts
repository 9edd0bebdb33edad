// The recovery flows through a real SMTP server the test starts: the mails arrive over the wire,
// their links work, the outbox keeps no body once sent, and /metrics counts them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp } from '../../helpers.ts';
import { expectTokenRefused } from '../../http/problem-assertions.ts';
import { linkIn, startSmtpServer, type SmtpTestServer } from '../mail/smtp-test-server.ts';
import { recoveryOf } from './recovery-helpers.ts';

let smtp: SmtpTestServer;
let t: TestApp;
const appUrl = 'https://app.example.com/account';
before(async () => {
  smtp = await startSmtpServer({ auth: { user: 'tokenstile', pass: 'smtp pass 1' } });
  t = await testApp({ recovery: { smtpUrl: smtp.url, mailFrom: 'Example <no-reply@example.com>', appUrl } });
});
after(async () => {
  await t.close();
  await smtp.close();
});

const post = (url: string, payload?: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload, headers });
const tokenOf = (link: string) => new URL(link).hash.split('=')[1]!;

describe('recovery over SMTP', () => {
  test('sign-up sends a verification mail; its link verifies the address', async () => {
    const email = uniqueEmail();
    assert.equal((await post('/auth/register', { email, password: goodPassword })).statusCode, 201);
    const mail = await smtp.waitFor(email, (m) => m.subject === 'Confirm your email address');
    assert.equal(mail.from, 'no-reply@example.com');
    const link = linkIn(mail, appUrl);
    assert.match(link, /^https:\/\/app\.example\.com\/account#verify=tso_/);
    assert.ok(mail.html.includes(link), 'the HTML body has the same link');
    assert.equal((await post('/auth/email/verify', { token: tokenOf(link) })).statusCode, 204);
    const login = await post('/auth/login', { email, password: goodPassword });
    assert.equal(login.json().user.emailVerified, true);
  });

  test('forgot → the mail arrives → its link resets the password and ends the session; the outbox keeps no body once sent', async () => {
    const s = await t.signUp();
    assert.equal((await post('/auth/password/forgot', { email: s.user.email })).statusCode, 202);
    const mail = await smtp.waitFor(s.user.email, (m) => m.subject === 'Reset your password');
    assert.match(mail.text, /for 30 minutes/);
    const token = tokenOf(linkIn(mail, appUrl));
    assert.equal((await post('/auth/password/reset', { token, newPassword: 'a lamp under 3 ferns' })).statusCode, 204);
    expectTokenRefused(await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) }), 'session_revoked');
    const recovery = recoveryOf(t.app.tokenstile);
    await recovery.settle();
    const rows = (await recovery.outbox.list({ limit: 1000 })).filter((m) => m.recipient === s.user.email);
    assert.ok(rows.length >= 1);
    for (const row of rows) {
      assert.equal(row.state, 'sent');
      assert.equal(row.text, null);
      assert.equal(row.html, null);
    }
  });

  test('a refused delivery is retried and counted in /metrics', async () => {
    const email = uniqueEmail();
    await post('/auth/register', { email, password: goodPassword });
    await smtp.waitFor(email);
    smtp.failNext(1);
    assert.equal((await post('/auth/password/forgot', { email })).statusCode, 202);
    const recovery = recoveryOf(t.app.tokenstile);
    await recovery.settle();
    const [row] = (await recovery.outbox.list({ limit: 1000 })).filter((m) => m.recipient === email && m.kind === 'password_reset');
    assert.equal(row?.state, 'pending');
    assert.match(row?.lastError ?? '', /451/);
    t.clock.advance(30_000);
    await recovery.settle();
    await smtp.waitFor(email, (m) => m.subject === 'Reset your password');
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /tokenstile_mail_total\{kind="password_reset",outcome="retry"\} [1-9]/);
    assert.match(metrics, /tokenstile_mail_total\{kind="password_reset",outcome="sent"\} [1-9]/);
  });
});
