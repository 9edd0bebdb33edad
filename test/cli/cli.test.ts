import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { buildApp } from '../../src/http/app.ts';
import { sqliteMigrations } from '../../src/stores/sqlite/sqlite-migrations.ts';
import { featureMigrations } from '../../src/core/feature.ts';
import { coreFeatures } from '../../src/features/feature-entry.ts';
import { features } from '../../src/features/index.ts';
import { bearer, fastHasher, goodPassword, issuer, problemOf, tempDir } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

function capture(stdin = ''): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), readStdin: async () => stdin };
}

describe('tokenstile CLI', () => {
  const dir = tempDir();
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${dir.path}/cli.db`, TOKENSTILE_ISSUER: issuer };
  const run = async (args: string[], stdin = '') => {
    const io = capture(stdin);
    const code = await runCli(args, io, env);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  };
  after(() => dir.cleanup());

  test('--help for the tool and each command', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['migrate', '--help'], ['users', '--help'], ['sessions', '--help'], ['purge', '--help'], ['keys', '--help'], ['clients', '--help']]) {
      const r = await run(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.out, /Usage:/);
    }
  });

  test('wrong usage exits 2 with a message, no stack', async () => {
    for (const args of [[], ['frobnicate'], ['users', 'create'], ['users', 'explode'], ['migrate', '--bogus']]) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(' '));
      if (args.length > 0) assert.match(r.err, /^tokenstile: /);
      assert.doesNotMatch(r.err, /\n\s+at /);
    }
  });

  test('a bad setting is named and exits 1', async () => {
    const io = capture();
    const code = await runCli(['migrate'], io, { ...env, TOKENSTILE_DATABASE_URL: 'mysql://x' });
    assert.equal(code, 1);
    assert.match(io.stderr.join(), /database URL must be sqlite/);
  });

  test('migrate applies once, then reports up to date', async () => {
    const first = await run(['migrate', '--json']);
    assert.equal(first.code, 0);
    // The core's, then the built-in features' (`<feature>/<name>`).
    const all = [...sqliteMigrations, ...featureMigrations(coreFeatures(features), 'sqlite')];
    assert.deepEqual(JSON.parse(first.out), { applied: all.map((m) => m.name) });
    assert.ok(sqliteMigrations.length >= 3);
    const second = await run(['migrate', '--json']);
    assert.deepEqual(JSON.parse(second.out), { applied: [] });
  });

  describe('users and sessions against a running server on the same database', () => {
    let app: ReturnType<typeof buildApp>;
    before(async () => {
      app = buildApp({ issuer, databaseUrl: env.TOKENSTILE_DATABASE_URL, passwordHasher: fastHasher, docs: false });
      await app.ready();
    });
    after(() => app.close());

    const login = async (email: string) => {
      const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { 'user-agent': 'cli-test' } });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { accessToken: string; session: { id: string } };
    };

    test('users create reads the password from stdin; the user can sign in', async () => {
      const r = await run(['users', 'create', '--email', 'Cli@Example.com', '--password-stdin', '--name', 'Cli', '--json'], `${goodPassword}\n`);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).user.email, 'cli@example.com');
      await login('cli@example.com');
    });

    test('users create refuses a taken email and a weak password with exit 1', async () => {
      const taken = await run(['users', 'create', '--email', 'cli@example.com', '--password-stdin'], goodPassword);
      assert.equal(taken.code, 1);
      assert.match(taken.err, /already exists/);
      const lookAlike = await run(['users', 'create', '--email', 'cli\u200b@example.com', '--password-stdin'], goodPassword);
      assert.equal(lookAlike.code, 1);
      assert.match(lookAlike.err, /email must not contain/);
      const weak = await run(['users', 'create', '--email', 'weak@example.com', '--password', 'short'], '');
      assert.equal(weak.code, 1);
      assert.match(weak.err, /policy/);
    });

    test('users create --no-password makes an account password sign-in refuses; with a password too it is refused', async () => {
      const r = await run(['users', 'create', '--email', 'sso-only@example.com', '--no-password', '--json']);
      assert.equal(r.code, 0, r.err);
      const { user } = JSON.parse(r.out) as { user: { id: string } };
      const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'sso-only@example.com', password: goodPassword } });
      assert.equal(problemOf(res).code, 'invalid_credentials');
      const started = await app.tokenstile.startSession({ userId: user.id, amr: ['fed'] });
      assert.ok(started.ok, 'the host app can start its sessions');
      const both = await run(['users', 'create', '--email', 'both@example.com', '--no-password', '--password-stdin'], goodPassword);
      assert.equal(both.code, 2, 'wrong usage');
      assert.match(both.err, /exactly one of/);
      const disabled = await run(['users', 'disable', '--user', 'sso-only@example.com']);
      assert.equal(disabled.code, 0, disabled.err);
      const me = await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(started.value.accessToken) });
      await internals(app.tokenstile).syncRevocations();
      const after = await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(started.value.accessToken) });
      assert.equal(problemOf(after).code, 'session_revoked', `before sync: ${me.statusCode}`);
    });

    test('sessions list shows live sessions; sessions revoke --id ends one, and the server refuses its token', async () => {
      const a = await login('cli@example.com');
      const list = await run(['sessions', 'list', '--user', 'cli@example.com', '--json']);
      const ids = JSON.parse(list.out).sessions.map((s: { id: string }) => s.id);
      assert.ok(ids.includes(a.session.id));
      const revoke = await run(['sessions', 'revoke', '--id', a.session.id]);
      assert.equal(revoke.code, 0, revoke.err);
      await internals(app.tokenstile).syncRevocations(); // the server polls each second; don't wait for it
      const me = await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(a.accessToken) });
      assert.equal(problemOf(me).code, 'session_revoked');
      const again = await run(['sessions', 'revoke', '--id', a.session.id]);
      assert.equal(again.code, 1);
    });

    test('sessions revoke --user ends every session of the user', async () => {
      const a = await login('cli@example.com');
      const b = await login('cli@example.com');
      assert.equal((await run(['sessions', 'revoke', '--user', 'cli@example.com'])).code, 0);
      await internals(app.tokenstile).syncRevocations();
      for (const t of [a, b]) {
        const me = await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(t.accessToken) });
        assert.equal(problemOf(me).code, 'session_revoked');
      }
    });

    test('sessions list and audit escape control and bidi characters of user agents (C0, DEL, C1, bidi)', async () => {
      const hostile = 'Evil\u009b2J\u001b]0;pwned\u0007\u007f\u202egnp.exe\u2028next';
      const signIn = await app.tokenstile.login({ email: 'cli@example.com', password: goodPassword }, { userAgent: hostile, ip: '192.0.2.7' });
      assert.ok(signIn.ok);
      await app.tokenstile.login({ email: 'cli@example.com', password: 'wrong password 1' }, { userAgent: hostile, ip: '192.0.2.7' });
      const raw = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
      const list = await run(['sessions', 'list', '--user', 'cli@example.com']);
      assert.equal(list.code, 0, list.err);
      const line = list.out.split('\n').find((l) => l.startsWith(signIn.value.session.id));
      assert.ok(line, list.out);
      assert.doesNotMatch(line, raw);
      assert.ok(line.includes('"Evil\\u009b2J\\u001b]0;pwned\\u0007\\u007f\\u202egnp.exe\\u2028next"'), line);
      const json = await run(['sessions', 'list', '--user', 'cli@example.com', '--json']);
      assert.doesNotMatch(json.out, raw);
      const listed = JSON.parse(json.out).sessions.find((x: { id: string }) => x.id === signIn.value.session.id);
      assert.equal(listed.userAgent, hostile, '--json escapes, and parses back to the stored text');
      let audit = { code: -1, out: '', err: '' };
      for (const until = Date.now() + 10_000; !audit.out.includes('u009b') && Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
        audit = await run(['audit', '--user', 'cli@example.com', '--json']); // the audit is written off the request path
      }
      assert.equal(audit.code, 0, audit.err);
      assert.doesNotMatch(audit.out.replaceAll('\n', ' '), raw);
      assert.ok(audit.out.split('\n').some((l) => JSON.parse(l).userAgent === hostile), audit.out);
      const text = await run(['audit', '--user', 'cli@example.com']);
      assert.doesNotMatch(text.out.replaceAll('\n', ' '), raw);
    });

    test('users disable blocks sign-in and ends sessions', async () => {
      const a = await login('cli@example.com');
      const r = await run(['users', 'disable', '--user', 'cli@example.com']);
      assert.equal(r.code, 0, r.err);
      await internals(app.tokenstile).syncRevocations();
      assert.equal(problemOf(await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(a.accessToken) })).code, 'session_revoked');
      const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'cli@example.com', password: goodPassword } });
      assert.equal(problemOf(res).code, 'invalid_credentials', 'the same answer as a wrong password: the password is not confirmed');
      const missing = await run(['users', 'disable', '--user', 'nobody@example.com']);
      assert.equal(missing.code, 1);
    });

    test('purge reports what it removed', async () => {
      const r = await run(['purge', '--json']);
      assert.equal(r.code, 0, r.err);
      const counts = JSON.parse(r.out);
      assert.equal(typeof counts.sessions, 'number');
      assert.equal(typeof counts.revocations, 'number');
    });
  });
});
