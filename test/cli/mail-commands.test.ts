// `tokenstile mail list|show`: the outbox as an operator reads it, on the server's database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { buildApp } from '../../src/http/app.ts';
import { fastHasher, goodPassword, issuer, tempDir, uniqueEmail } from '../helpers.ts';
import { recoveryOf } from '../features/recovery/recovery-helpers.ts';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), readStdin: async () => '' };
}

describe('tokenstile mail', () => {
  const dir = tempDir();
  const env = { TOKENSTILE_DATABASE_URL: `sqlite:${dir.path}/mail.db`, TOKENSTILE_ISSUER: issuer };
  const run = async (args: string[]) => {
    const io = capture();
    const code = await runCli(args, io, env);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  };
  let app: ReturnType<typeof buildApp>;
  const email = uniqueEmail();
  before(async () => {
    app = buildApp({ issuer, databaseUrl: env.TOKENSTILE_DATABASE_URL, passwordHasher: fastHasher, rateLimits: false, docs: false });
    await app.ready();
    assert.equal((await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } })).statusCode, 201);
    assert.equal((await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email } })).statusCode, 202);
    await recoveryOf(app.tokenstile).settle();
  });
  after(async () => {
    await app?.close();
    dir.cleanup();
  });

  test('list shows the mail kept in the outbox, without its body; show prints the link', async () => {
    const list = await run(['mail', 'list']);
    assert.equal(list.code, 0, list.err);
    const line = list.out.split('\n').find((l) => l.includes(email));
    assert.ok(line, list.out);
    assert.match(line, /^[0-9a-f-]{36} {2}outbox +password_reset/);
    assert.doesNotMatch(list.out, /tso_/, 'no link in the listing');
    const id = line.slice(0, 36);
    const show = await run(['mail', 'show', id]);
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, new RegExp(`To: ${email.replace(/[.+]/g, '\\$&')}`));
    assert.match(show.out, /Subject: Reset your password/);
    assert.match(show.out, /\/account#reset=tso_[A-Za-z0-9_-]{43}\n/);
    const json = JSON.parse((await run(['mail', 'show', id, '--json'])).out);
    assert.equal(json.state, 'outbox');
    assert.match(json.text, /#reset=tso_/);
    const page = JSON.parse((await run(['mail', 'list', '--json', '--limit', '1'])).out);
    assert.equal(page.mails.length, 1);
    assert.equal(page.mails[0].text, undefined);
  });

  test('a used link makes no difference to the row, but an unknown id fails and a missing one is wrong usage', async () => {
    assert.equal((await run(['mail', 'show', '01890a5d-ac96-774b-bcce-b302099a8057'])).code, 1);
    assert.equal((await run(['mail', 'show', 'nope'])).code, 1);
    assert.equal((await run(['mail', 'show'])).code, 2);
    assert.equal((await run(['mail', 'list', '--after', 'nope'])).code, 1);
    const help = await run(['mail', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /tokenstile mail show MAIL_ID/);
  });
});
