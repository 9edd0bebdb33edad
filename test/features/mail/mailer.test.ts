// The mailer against a real SMTP server: delivery, retry with backoff, a stalled server bounded
// by the send timeout, and the outbox when no SMTP is configured.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.ts';
import { secureRandom } from '../../../src/core/ids.ts';
import type { FeatureDatabase } from '../../../src/core/feature.ts';
import { mailMigrations } from '../../../src/features/mail/mail-migrations.ts';
import { MailTemplates } from '../../../src/features/mail/mail-templates.ts';
import nodemailer from 'nodemailer';
import { checkSmtpUrl, smtpSettings, smtpTransport } from '../../../src/features/mail/mail-transport.ts';
import { Mailer, retryDelayMs, type MailEvent } from '../../../src/features/mail/mailer.ts';
import { OutboxStore } from '../../../src/features/mail/outbox-store.ts';
import { tempDir } from '../../helpers.ts';
import { startSmtpServer, type SmtpTestServer } from './smtp-test-server.ts';

function sqliteDb(): FeatureDatabase {
  const db = new DatabaseSync(':memory:');
  for (const m of mailMigrations.sqlite) db.exec(m.sql);
  const self: FeatureDatabase = {
    dialect: 'sqlite',
    query: async <T>(sql: string, params: readonly unknown[] = []) => db.prepare(sql).all(...(params as never[])) as T[],
    execute: async (sql, params = []) => Number(db.prepare(sql).run(...(params as never[])).changes),
    transaction: (fn) => fn(self),
  };
  return self;
}

let smtp: SmtpTestServer;
before(async () => {
  smtp = await startSmtpServer({ auth: { user: 'mailer', pass: 's3cret pass' } });
});
after(() => smtp.close());

const site = 'auth.example.com';

function mailerFor(transport: ReturnType<typeof smtpTransport> | null, events: MailEvent[] = [], logs: unknown[][] = [], store = new OutboxStore(sqliteDb())) {
  const clock = new ManualClock(Date.now());
  const logger = { info: (...a: unknown[]) => logs.push(a), warn: (...a: unknown[]) => logs.push(a), error: (...a: unknown[]) => logs.push(a) };
  const mailer = new Mailer({ store, transport, templates: new MailTemplates(), clock, random: secureRandom, logger, onEvent: (e) => events.push(e), retryBaseMs: 30_000, maxAttempts: 3 });
  return { clock, store, mailer };
}

describe('mailer', () => {
  test('a mail goes out over SMTP with its credentials, text and HTML bodies; once sent its body (the link) is cleared and nothing logged holds the link', async () => {
    const events: MailEvent[] = [];
    const logs: unknown[][] = [];
    const { store, mailer } = mailerFor(smtpTransport({ url: smtp.url, from: 'Tokenstile <no-reply@example.com>', timeoutMs: 5000 }), events, logs);
    try {
      const link = 'https://auth.example.com/account#reset=tso_abc<&>';
      const id = await mailer.enqueue('password_reset', 'ada@example.com', { email: 'ada@example.com', link, site }, 30 * 60_000);
      const mail = await smtp.waitFor('ada@example.com');
      assert.equal(mail.subject, 'Reset your password');
      assert.equal(mail.from, 'no-reply@example.com');
      assert.match(mail.text, /tso_abc<&>/);
      assert.match(mail.text, /for 30 minutes/);
      assert.match(mail.html, /href="https:\/\/auth\.example\.com\/account#reset=tso_abc&#60;&#38;&#62;"/, 'the link is escaped in HTML');
      await mailer.flush();
      const stored = await store.get(id);
      assert.equal(stored?.state, 'sent');
      assert.equal(stored?.text, null);
      assert.equal(stored?.html, null);
      assert.deepEqual(events.map((e) => e.type), ['mail_queued', 'mail_sent']);
      assert.ok(!JSON.stringify(logs).includes('tso_abc'), 'no log line holds the link');
      assert.ok(logs.some(([obj]) => (obj as { mailId?: string }).mailId === id), 'one line names the mail');
    } finally {
      await mailer.close();
    }
  });

  test('a refused delivery is retried with backoff, keeps its last error, and is given up after the last attempt', async () => {
    const events: MailEvent[] = [];
    const { clock, store, mailer } = mailerFor(smtpTransport({ url: smtp.url, from: 'no-reply@example.com', timeoutMs: 5000 }), events);
    try {
      smtp.failNext(1);
      const id = await mailer.enqueue('verify_email', 'bob@example.com', { email: 'bob@example.com', link: 'https://x.example/l', site }, 3_600_000);
      await mailer.flush();
      let stored = await store.get(id);
      assert.equal(stored?.state, 'pending');
      assert.equal(stored?.attempts, 1);
      assert.match(stored?.lastError ?? '', /451/);
      assert.equal(stored?.nextAttemptAt, clock.now() + retryDelayMs(1, 30_000));
      await mailer.flush();
      assert.equal((await store.get(id))?.attempts, 1, 'not retried before its time');
      clock.advance(30_000);
      await mailer.flush();
      await smtp.waitFor('bob@example.com');
      stored = await store.get(id);
      assert.equal(stored?.state, 'sent');
      assert.equal(stored?.attempts, 2);

      smtp.failNext(3);
      const doomed = await mailer.enqueue('verify_email', 'carol@example.com', { email: 'carol@example.com', link: 'https://x.example/l', site }, 3_600_000);
      for (const wait of [0, 30_000, 60_000]) {
        clock.advance(wait);
        await mailer.flush();
      }
      stored = await store.get(doomed);
      assert.equal(stored?.state, 'failed');
      assert.equal(stored?.attempts, 3);
      assert.equal(stored?.text, null);
      assert.ok(events.some((e) => e.type === 'mail_failed' && e.final));
    } finally {
      smtp.failNext(0);
      await mailer.close();
    }
  });

  test('a server that stalls fails the attempt within the send timeout; enqueueing never waits for it', async () => {
    const { store, mailer } = mailerFor(smtpTransport({ url: smtp.url, from: 'no-reply@example.com', timeoutMs: 300 }));
    smtp.stall(true);
    try {
      const t0 = performance.now();
      const id = await mailer.enqueue('magic_link', 'dan@example.com', { email: 'dan@example.com', link: 'https://x.example/l', site }, 600_000);
      assert.ok(performance.now() - t0 < 250, 'enqueue answered without waiting for SMTP');
      const t1 = performance.now();
      await mailer.flush();
      const took = performance.now() - t1;
      assert.ok(took < 5000, `the attempt ended within its bound (${took.toFixed(0)} ms)`);
      const stored = await store.get(id);
      assert.equal(stored?.state, 'pending');
      assert.match(stored?.lastError ?? '', /ETIMEDOUT|timeout|within/i);
    } finally {
      smtp.stall(false);
      await mailer.close();
    }
  });

  test('without SMTP, mails stay in the outbox with their body until the link expires', async () => {
    const { clock, store, mailer } = mailerFor(null);
    try {
      const id = await mailer.enqueue('verify_email', 'eve@example.com', { email: 'eve@example.com', link: 'https://x.example/verify#t', site }, 60_000);
      const stored = await store.get(id);
      assert.equal(stored?.state, 'outbox');
      assert.match(stored?.text ?? '', /https:\/\/x\.example\/verify#t/);
      assert.deepEqual((await store.list({ limit: 10 })).map((m) => m.id), [id]);
      assert.equal(await store.purge(clock.now(), 0), 0);
      clock.advance(60_000);
      assert.equal(await store.purge(clock.now(), 0), 1);
      assert.equal((await store.get(id))?.text, null);
    } finally {
      await mailer.close();
    }
  });

  test('smtp:// requires STARTTLS (certificates verified, TLS 1.2+) except to this machine or with ?starttls=optional; a server without it never sees the credentials', async () => {
    const settings = (url: string) => smtpSettings(checkSmtpUrl(url), 1000);
    assert.equal(settings('smtp://u:p@mail.example.com:587').requireTLS, true);
    assert.equal(settings('smtp://u:p@mail.example.com:587').tls.rejectUnauthorized, true);
    assert.equal(settings('smtp://u:p@mail.example.com:587?starttls=optional').requireTLS, false);
    assert.equal(settings('smtps://u:p@mail.example.com').requireTLS, false);
    assert.equal(settings('smtps://u:p@mail.example.com').secure, true);
    for (const local of ['smtp://127.0.0.1:25', 'smtp://localhost:25', 'smtp://[::1]:25']) assert.equal(settings(local).requireTLS, false, local);
    assert.throws(() => checkSmtpUrl('smtp://mail.example.com?starttls=off'), /starttls=optional/);
    assert.throws(() => checkSmtpUrl('smtps://mail.example.com?starttls=optional'), /starttls=optional/);
    // The settings for a remote host, against the real test server (which offers no STARTTLS).
    const port = Number(new URL(smtp.url).port);
    const remote = nodemailer.createTransport({ ...settings('smtp://mailer:s3cret%20pass@mail.example.com'), host: '127.0.0.1', port });
    try {
      const before = smtp.authAttempts();
      await assert.rejects(remote.sendMail({ from: 'no-reply@example.com', to: 'tls@example.com', subject: 's', text: 't' }), /STARTTLS|TLS/i);
      assert.equal(smtp.authAttempts(), before, 'no login was sent in the clear');
      assert.ok(!smtp.received.some((m) => m.to.includes('tls@example.com')));
    } finally {
      remote.close();
    }
  });

  test('with the key-encryption key, bodies are sealed at rest (the table holds no link), read back and sent as written; without the key they are refused, not sent empty', async () => {
    const db = sqliteDb();
    const key = secureRandom(32);
    const { store, mailer } = mailerFor(null, [], [], new OutboxStore(db, key));
    try {
      const link = 'https://auth.example.com/account#magic=tso_sealed_link';
      const id = await mailer.enqueue('magic_link', 'fay@example.com', { email: 'fay@example.com', link, site }, 600_000);
      const [raw] = await db.query<{ body_text: string; body_html: string }>('SELECT body_text, body_html FROM mail_outbox WHERE id = ?1', [id]);
      assert.match(raw!.body_text, /^tsenc1\./);
      assert.match(raw!.body_html, /^tsenc1\./);
      assert.doesNotMatch(JSON.stringify(raw), /tso_sealed_link/);
      assert.match((await store.get(id))?.text ?? '', /tso_sealed_link/);
      assert.match((await store.get(id))?.html ?? '', /tso_sealed_link/);
      await assert.rejects(new OutboxStore(db).get(id), /keyEncryptionKey/);
      await assert.rejects(new OutboxStore(db, secureRandom(32)).get(id), /keyEncryptionKey/);
    } finally {
      await mailer.close();
    }
    const sender = mailerFor(smtpTransport({ url: smtp.url, from: 'no-reply@example.com', timeoutMs: 5000 }), [], [], new OutboxStore(sqliteDb(), key));
    try {
      await sender.mailer.enqueue('magic_link', 'gus@example.com', { email: 'gus@example.com', link: 'https://auth.example.com/account#magic=tso_gus', site }, 600_000);
      assert.match((await smtp.waitFor('gus@example.com')).text, /tso_gus/);
    } finally {
      await sender.mailer.close();
    }
  });

  test('a failing mail is retried while its link works, and given up on once the next attempt would come after the link expired', async () => {
    const store = new OutboxStore(sqliteDb());
    const clock = new ManualClock(Date.now());
    const mailer = new Mailer({ store, transport: smtpTransport({ url: smtp.url, from: 'no-reply@example.com', timeoutMs: 5000 }), templates: new MailTemplates(), clock, random: secureRandom, retryBaseMs: 30_000 });
    try {
      smtp.failNext(100);
      const long = await mailer.enqueue('verify_email', 'hal@example.com', { email: 'hal@example.com', link: 'https://x.example/l', site }, 24 * 3_600_000);
      const short = await mailer.enqueue('magic_link', 'ida@example.com', { email: 'ida@example.com', link: 'https://x.example/l', site }, 60_000);
      for (const wait of [0, 30_000, 60_000, 120_000, 240_000, 480_000, 960_000]) {
        clock.advance(wait);
        await mailer.flush();
      }
      assert.equal((await store.get(short))?.state, 'failed', 'the 1-minute link: given up after its second attempt (the third would come after it expired)');
      assert.equal((await store.get(short))?.attempts, 2);
      const stillTrying = await store.get(long);
      assert.equal(stillTrying?.state, 'pending', 'the 24-hour link: still retried after six failures (the old policy gave up here)');
      assert.equal(stillTrying?.attempts, 7);
      smtp.failNext(0);
      clock.advance(stillTrying!.nextAttemptAt - clock.now());
      await mailer.flush();
      await smtp.waitFor('hal@example.com');
      assert.equal((await store.get(long))?.state, 'sent');
    } finally {
      smtp.failNext(0);
      await mailer.close();
    }
  });

  test('values cannot add headers (CR/LF in a subject) or markup (escaped in operator HTML templates), over the wire too', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'password_reset.txt'), 'Subject: Reset for {{email}} on {{site}}\n\nGo to {{link}}\n');
      writeFileSync(join(dir.path, 'password_reset.html'), '<p>{{email}}</p><a href="{{link}}">reset</a>');
      const templates = new MailTemplates(dir.path);
      const hostile = { email: 'joe@example.com\r\nBcc: evil@example.com', link: 'https://auth.example.com/account#reset=x"><script>alert(1)</script>', site: 'auth.example.com\nX-Evil: 1' };
      const mail = templates.render('password_reset', hostile);
      assert.doesNotMatch(mail.subject, /[\r\n]/);
      assert.doesNotMatch(mail.html, /<script>|"><|Bcc: evil@example.com\r\n/);
      assert.match(mail.html, /&#60;script&#62;/);
      const transport = smtpTransport({ url: smtp.url, from: 'no-reply@example.com', timeoutMs: 5000 });
      try {
        await transport.send({ to: 'kim@example.com', ...mail });
      } finally {
        transport.close();
      }
      const got = await smtp.waitFor('kim@example.com');
      assert.deepEqual(got.to, ['kim@example.com'], 'no recipient was added');
      const head = got.raw.slice(0, got.raw.search(/\r?\n\r?\n/));
      assert.doesNotMatch(head, /^(Bcc|X-Evil):/im, 'no header was added');
    } finally {
      dir.cleanup();
    }
  });
});
