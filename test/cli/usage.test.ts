// How the CLI answers help requests and wrong usage (docs/cli.md: exit code 2), and `sessions list`
// without --user.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { buildApp } from '../../src/http/app.ts';
import { fastHasher, goodPassword, issuer, tempDir } from '../helpers.ts';

function capture(stdin = ''): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), readStdin: async () => stdin };
}

const dir = tempDir();
after(() => dir.cleanup());

async function run(args: string[], env: Record<string, string>, stdin = '') {
  const io = capture(stdin);
  const code = await runCli(args, io, env);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('help', () => {
  // A database that cannot be opened: help must not need one.
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${join(dir.path, 'missing', 'x.db')}` };

  test('a subcommand\'s --help shows that command\'s usage, not its group\'s', async () => {
    const cases: Array<[string[], string, string]> = [
      [['users', 'create', '--help'], 'tokenstile users create --email EMAIL', 'users disable'],
      [['users', 'disable', '-h'], 'tokenstile users disable --user', 'users create'],
      [['sessions', 'list', '--help'], 'tokenstile sessions list', 'sessions revoke'],
      [['help', 'sessions', 'revoke'], 'tokenstile sessions revoke', 'sessions list'],
      [['keys', 'rotate', '--help'], 'tokenstile keys rotate [--publish-ahead DURATION]', 'keys list'],
      [['clients', 'remove', '--help'], 'tokenstile clients remove --id CLIENT_ID', 'clients create'],
    ];
    for (const [args, usage, other] of cases) {
      const r = await run(args, env);
      assert.equal(r.code, 0, args.join(' '));
      assert.ok(r.out.startsWith(`Usage: ${usage}`), `${args.join(' ')}:\n${r.out}`);
      assert.equal(r.out.includes(other), false, `${args.join(' ')} shows ${other}`);
      assert.equal(r.err, '');
    }
  });

  test('a group\'s --help lists its subcommands and exits 0', async () => {
    const r = await run(['sessions', '--help'], env);
    assert.equal(r.code, 0);
    assert.match(r.out, /tokenstile sessions list/);
    assert.match(r.out, /tokenstile sessions revoke/);
  });

  test('a bare command group shows its help on stderr and exits 2', async () => {
    for (const group of ['users', 'sessions', 'keys', 'clients']) {
      const r = await run([group], env);
      assert.equal(r.code, 2, group);
      assert.equal(r.out, '');
      assert.match(r.err, new RegExp(`^Usage:\\n  tokenstile ${group} `), group);
    }
    const bare = await run([], env);
    assert.equal(bare.code, 2);
    assert.match(bare.err, /^Usage: tokenstile <command>/);
  });

  test('--version prints the package version', async () => {
    const r = await run(['--version'], env);
    assert.equal(r.code, 0);
    assert.match(r.out, /^\d+\.\d+\.\d+/);
  });
});

describe('wrong usage exits 2, names the mistake and the help to read, and touches no database', () => {
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${join(dir.path, 'missing', 'x.db')}` };
  const id = '01900000-0000-7000-8000-000000000000';
  const cases: Array<[string[], RegExp, string]> = [
    [['frobnicate'], /unknown command "frobnicate"/, 'tokenstile --help'],
    [['help', 'frobnicate'], /unknown command "frobnicate"/, 'tokenstile --help'],
    [['users', 'explode'], /unknown users command "explode"; expected create, disable/, 'tokenstile users --help'],
    [['users', 'create', '--password-stdin'], /missing --email/, 'tokenstile users create --help'],
    [['users', 'create', '--email', 'a@example.com'], /exactly one of --password-stdin .* or --password/, 'tokenstile users create --help'],
    [['users', 'create', '--email', 'a@example.com', '--password', 'x', '--password-stdin'], /exactly one of/, 'tokenstile users create --help'],
    [['users', 'disable'], /missing --user/, 'tokenstile users disable --help'],
    [['users', 'disable', '--user', 'a@example.com', '--limit', '3'], /--limit is not an option of users disable/, 'tokenstile users disable --help'],
    [['sessions', 'list', '--limit', '0'], /--limit must be a whole number from 1 to 1000, got "0"/, 'tokenstile sessions list --help'],
    [['sessions', 'list', '--after', 'yesterday'], /--after must be a session id/, 'tokenstile sessions list --help'],
    [['sessions', 'list', '--user', 'a@example.com', '--after', id], /a user's list is not paged/, 'tokenstile sessions list --help'],
    [['sessions', 'revoke'], /exactly one of --id SESSION_ID or --user/, 'tokenstile sessions revoke --help'],
    [['sessions', 'revoke', '--id', id, '--user', 'a@example.com'], /exactly one of/, 'tokenstile sessions revoke --help'],
    [['sessions', 'revoke', '--id', 'not-an-id'], /--id must be a session id, got "not-an-id"/, 'tokenstile sessions revoke --help'],
    [['audit', '--limit', 'abc'], /--limit must be a whole number from 1 to 10000, got "abc"/, 'tokenstile audit --help'],
    [['audit', '--limit', '1.5'], /--limit must be a whole number/, 'tokenstile audit --help'],
    [['keys', 'rotate', '--publish-ahead', 'soon'], /--publish-ahead must be a duration/, 'tokenstile keys rotate --help'],
    [['keys', 'list', 'now'], /unexpected argument "now"/, 'tokenstile keys list --help'],
    [['clients', 'create'], /missing --id/, 'tokenstile clients create --help'],
    [['purge', '--email', 'a@example.com'], /--email is not an option of purge/, 'tokenstile purge --help'],
    [['serve', 'now'], /unexpected argument "now"/, 'tokenstile serve --help'],
    [['migrate', '--bogus'], /Unknown option '--bogus'/, 'tokenstile migrate --help'],
  ];
  for (const [args, message, help] of cases) {
    test(args.join(' '), async () => {
      const r = await run(args, env);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /^tokenstile: /);
      assert.match(r.err, message);
      assert.ok(r.err.endsWith(`Run \`${help}\` for usage.`), r.err);
      assert.doesNotMatch(r.err, /\n\s+at /);
      assert.equal(existsSync(join(dir.path, 'missing')), false);
    });
  }
});

describe('sessions list without --user: every live session, a page at a time', () => {
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${dir.path}/sessions.db`, TOKENSTILE_ISSUER: issuer };
  let app: ReturnType<typeof buildApp>;
  const ids: string[] = [];
  before(async () => {
    app = buildApp({ issuer, databaseUrl: env.TOKENSTILE_DATABASE_URL, passwordHasher: fastHasher, docs: false, rateLimits: false });
    await app.ready();
    for (const email of ['ann@example.com', 'bob@example.com']) {
      const created = await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
      assert.equal(created.statusCode, 201, created.body);
    }
    for (const email of ['ann@example.com', 'bob@example.com', 'ann@example.com', 'bob@example.com']) {
      const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers: { 'user-agent': `ua-${email}` } });
      assert.equal(res.statusCode, 200, res.body);
      ids.push((res.json() as { session: { id: string } }).session.id);
    }
  });
  after(() => app.close());

  test('pages of --limit, newest first, following --after until the end, across users', async () => {
    const revoked = await run(['sessions', 'revoke', '--id', ids[1]!], env);
    assert.equal(revoked.code, 0, revoked.err);
    const live = [ids[0]!, ids[2]!, ids[3]!].sort().reverse();
    const first = await run(['sessions', 'list', '--limit', '2'], env);
    assert.equal(first.code, 0, first.err);
    const lines = first.out.split('\n');
    assert.equal(lines.length, 3, first.out);
    assert.deepEqual(lines.slice(0, 2).map((l) => l.split(' ')[0]), live.slice(0, 2));
    assert.match(lines[0]!, /"(ann|bob)@example\.com"/);
    assert.equal(lines[2], `more: tokenstile sessions list --after ${live[1]} --limit 2`);
    const second = await run(['sessions', 'list', '--after', live[1]!, '--limit', '2', '--json'], env);
    const page = JSON.parse(second.out) as { sessions: Array<{ id: string; email: string; userAgent: string }>; next: string | null };
    assert.deepEqual(page.sessions.map((s) => s.id), [live[2]]);
    assert.equal(page.next, null);
    assert.match(page.sessions[0]!.userAgent, /^ua-/);
    const all = JSON.parse((await run(['sessions', 'list', '--json'], env)).out) as { sessions: Array<{ id: string }>; next: string | null };
    assert.deepEqual(all.sessions.map((s) => s.id), live, 'the revoked session is not listed');
    assert.equal(all.next, null);
  });
});
