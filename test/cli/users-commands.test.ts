// `tokenstile users show|enable|set-password|verify-email` against a running server on the same database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { buildApp } from '../../src/http/app.ts';
import { bearer, fastHasher, goodPassword, issuer, tempDir, uniqueEmail } from '../helpers.ts';

describe('tokenstile users: operator recovery', () => {
  const dir = tempDir();
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${dir.path}/users.db`, TOKENSTILE_ISSUER: issuer };
  const run = async (args: string[], stdin = '') => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const io: CliIo = { out: (l) => stdout.push(l), err: (l) => stderr.push(l), readStdin: async () => stdin };
    const code = await runCli(args, io, env);
    return { code, out: stdout.join('\n'), err: stderr.join('\n') };
  };
  let app: ReturnType<typeof buildApp>;
  before(async () => {
    app = buildApp({ issuer, databaseUrl: env.TOKENSTILE_DATABASE_URL, passwordHasher: fastHasher, rateLimits: false, docs: false });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    dir.cleanup();
  });
  const login = (email: string, password = goodPassword) => app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });

  test('set-password ends every session on the running server; the new password signs in; a weak one is refused with the reason', async () => {
    const email = uniqueEmail();
    await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    const session = (await login(email)).json();
    const weak = await run(['users', 'set-password', '--user', email, '--password-stdin'], 'Password123!\n');
    assert.equal(weak.code, 1);
    assert.match(weak.err, /does not meet the policy: .*common/);
    const r = await run(['users', 'set-password', '--user', email, '--password-stdin'], 'a lamp under 3 ferns\n');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /sessions ended/);
    const me = await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(session.accessToken) });
    assert.equal(me.statusCode, 401);
    assert.equal(me.json().code, 'session_revoked');
    assert.equal((await login(email)).statusCode, 401);
    assert.equal((await login(email, 'a lamp under 3 ferns')).statusCode, 200);
  });

  test('show, verify-email, and enable after disable', async () => {
    const email = uniqueEmail();
    await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
    let shown = JSON.parse((await run(['users', 'show', '--user', email, '--json'])).out).user;
    assert.equal(shown.emailVerified, false);
    assert.equal((await run(['users', 'verify-email', '--user', email])).code, 0);
    shown = JSON.parse((await run(['users', 'show', '--user', email, '--json'])).out).user;
    assert.equal(shown.emailVerified, true);
    assert.match((await run(['users', 'show', '--user', email])).out, /email verified/);
    assert.equal((await run(['users', 'disable', '--user', email])).code, 0);
    assert.equal((await login(email)).statusCode, 401);
    assert.equal((await run(['users', 'enable', '--user', email])).code, 0);
    assert.equal((await login(email)).statusCode, 200);
    assert.equal((await run(['users', 'enable', '--user', 'nobody@example.com'])).code, 1);
    assert.equal((await run(['users', 'show'])).code, 2);
  });
});
