import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { issuer, tempDir } from '../helpers.ts';
import { eventually, listeningApp } from '../verify/verify-helpers.ts';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), readStdin: async () => '' };
}

const introspectAs = (url: string, id: string, secret: string) =>
  fetch(`${url}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
    body: 'token=x',
  });

describe('tokenstile clients', () => {
  test('create stores a client that a running server accepts at once; remove makes it refuse the client', async () => {
    const dir = tempDir();
    const databaseUrl = `sqlite:${dir.path}/clients.db`;
    const env = { TOKENSTILE_DATABASE_URL: databaseUrl, TOKENSTILE_ISSUER: issuer };
    const t = await listeningApp({ databaseUrl });
    try {
      const io = capture();
      assert.equal(await runCli(['clients', 'create', '--id', 'billing', '--json'], io, env), 0, io.stderr.join('\n'));
      const made = JSON.parse(io.stdout[0]!);
      assert.equal(made.clientId, 'billing');
      assert.match(made.clientSecret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal((await introspectAs(t.url, 'billing', made.clientSecret)).status, 200);
      assert.equal((await introspectAs(t.url, 'billing', `${made.clientSecret}x`)).status, 401);

      const again = capture();
      assert.equal(await runCli(['clients', 'create', '--id', 'billing'], again, env), 1);
      assert.match(again.stderr.join('\n'), /exists already/);

      const list = capture();
      assert.equal(await runCli(['clients', 'list'], list, { ...env, TOKENSTILE_CLIENTS: 'orders-api:orders-secret-0123456789' }), 0);
      assert.match(list.stdout.join('\n'), /orders-api {2}TOKENSTILE_CLIENTS {2}\(plain secret/);
      assert.match(list.stdout.join('\n'), /billing {2}database {2}created /);
      assert.doesNotMatch(list.stdout.join('\n'), new RegExp(made.clientSecret));

      assert.equal(await runCli(['clients', 'remove', '--id', 'billing'], capture(), env), 0);
      await eventually(async () => (await introspectAs(t.url, 'billing', made.clientSecret)).status === 401, 15_000, 'refusal of the removed client');
      const missing = capture();
      assert.equal(await runCli(['clients', 'remove', '--id', 'billing'], missing, env), 1);
      assert.match(missing.stderr.join('\n'), /no stored client billing/);
    } finally {
      await t.close();
      dir.cleanup();
    }
  });

  test('create --env-entry stores nothing and prints an entry that holds only the hash', async () => {
    const io = capture();
    assert.equal(await runCli(['clients', 'create', '--id', 'orders-api', '--env-entry', '--json'], io, {}), 0);
    const made = JSON.parse(io.stdout[0]!);
    assert.match(made.entry, /^orders-api:sha256\.[A-Za-z0-9_-]{43}$/);
    assert.equal(made.entry.includes(made.clientSecret), false);
    const t = await listeningApp({ clients: made.entry });
    try {
      assert.equal((await introspectAs(t.url, 'orders-api', made.clientSecret)).status, 200);
    } finally {
      await t.close();
    }
  });

  test('wrong usage and bad ids are refused', async () => {
    const usage = capture();
    assert.equal(await runCli(['clients', 'create'], usage, {}), 2);
    const bad = capture();
    assert.equal(await runCli(['clients', 'create', '--id', 'no spaces', '--env-entry'], bad, {}), 1);
    assert.match(bad.stderr.join('\n'), /client id must be/);
    const taken = capture();
    assert.equal(await runCli(['clients', 'create', '--id', 'a', '--env-entry'], taken, { TOKENSTILE_CLIENTS: 'a:0123456789abcdef' }), 1);
    assert.match(taken.stderr.join('\n'), /already in TOKENSTILE_CLIENTS/);
  });
});
