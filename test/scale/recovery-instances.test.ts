// Password reset across three server processes sharing PostgreSQL and Redis, with mail through a
// real SMTP server: the link is asked for on one instance, used on another, and every session of
// the user is refused by all three the moment the reset answers. Also the forgot timing for a
// known and an unknown address, measured over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { linkIn, startSmtpServer, type SmtpTestServer } from '../features/mail/smtp-test-server.ts';
import { call, cleanUp, percentile, postgresUrl, redisUrl, runId, sharedServicesProblem, startInstance, type Instance } from './harness.ts';

const problem = await sharedServicesProblem();
if (problem && process.env.CI !== 'true') console.log(`# SKIPPED recovery multi-instance tests: ${problem}`);

describe('password reset on three instances (PostgreSQL + Redis, SMTP)', { skip: problem !== null && process.env.CI !== 'true' ? problem : false }, () => {
  const id = runId('rec');
  const prefix = `${id}:`;
  const appUrl = 'https://app.example.com/account';
  let instances: Instance[] = [];
  let smtp: SmtpTestServer;

  before(async () => {
    if (problem) throw new Error(problem);
    smtp = await startSmtpServer();
    const env = {
      TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`,
      TOKENSTILE_REDIS_URL: redisUrl,
      TOKENSTILE_REDIS_PREFIX: prefix,
      TOKENSTILE_ISSUER: 'http://tokenstile.test',
      TOKENSTILE_RATE_LIMITS: 'off',
      TOKENSTILE_SMTP_URL: smtp.url,
      TOKENSTILE_MAIL_FROM: 'no-reply@tokenstile.test',
      TOKENSTILE_APP_URL: appUrl,
    };
    instances = await Promise.all([startInstance(env), startInstance(env), startInstance(env)]);
  });

  after(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await smtp?.close();
    if (!problem) await cleanUp(id, prefix);
  });

  test('asked on one, used on another: every session of the user is refused on all three as soon as the reset answers', async (t) => {
    const [a, b, c] = instances as [Instance, Instance, Instance];
    const email = 'reset-everywhere@example.com';
    assert.equal((await call(a.url, 'POST', '/auth/register', { email, password: 'correct horse 42' })).status, 201);
    const tokens: string[] = [];
    for (const i of instances) tokens.push((await call(i.url, 'POST', '/auth/login', { email, password: 'correct horse 42' })).json.accessToken);
    for (const i of instances) for (const token of tokens) assert.equal((await call(i.url, 'GET', '/auth/me', undefined, token)).status, 200);

    assert.equal((await call(b.url, 'POST', '/auth/password/forgot', { email })).status, 202);
    const mail = await smtp.waitFor(email, (m) => m.subject === 'Reset your password');
    const token = new URL(linkIn(mail, appUrl)).hash.split('=')[1];
    const t0 = performance.now();
    assert.equal((await call(c.url, 'POST', '/auth/password/reset', { token, newPassword: 'a lamp under 3 ferns' })).status, 204);
    const resetMs = performance.now() - t0;
    let accepted = 0;
    for (const i of instances) {
      for (const access of tokens) {
        const r = await call(i.url, 'GET', '/auth/me', undefined, access);
        if (r.status !== 401) accepted += 1;
        else assert.equal(r.json.code, 'session_revoked');
      }
    }
    t.diagnostic(`reset answered in ${resetMs.toFixed(1)} ms; tokens accepted after it, over 3 sessions × 3 instances: ${accepted}`);
    console.log(`# reset on 3 instances: answered in ${resetMs.toFixed(1)} ms; accepted after the answer: ${accepted} of 9`);
    assert.equal(accepted, 0);
    assert.equal((await call(a.url, 'POST', '/auth/login', { email, password: 'a lamp under 3 ferns' })).status, 200);
  });

  test('forgot takes the same time for a known and an unknown address (measured over HTTP)', async (t) => {
    const [a] = instances as [Instance];
    const email = 'timing@example.com';
    await call(a.url, 'POST', '/auth/register', { email, password: 'correct horse 42' });
    const samples = { known: [] as number[], unknown: [] as number[] };
    for (let n = 0; n < 100; n++) {
      for (const kind of n % 2 === 0 ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const)) {
        const t0 = performance.now();
        const r = await call(a.url, 'POST', '/auth/password/forgot', { email: kind === 'known' ? email : `nobody-${n}@example.com` });
        samples[kind].push(performance.now() - t0);
        assert.equal(r.status, 202);
      }
    }
    const line = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} ms, p90 ${percentile(xs, 90).toFixed(2)} ms`;
    t.diagnostic(`forgot over HTTP, 100 each: known ${line(samples.known)}; unknown ${line(samples.unknown)}`);
    console.log(`# forgot timing: known ${line(samples.known)}; unknown ${line(samples.unknown)}`);
    const [k, u] = [percentile(samples.known, 50), percentile(samples.unknown, 50)];
    assert.ok(Math.abs(k - u) < Math.max(2, 0.5 * Math.min(k, u)), `known ${k} ms vs unknown ${u} ms`);
  });
});
