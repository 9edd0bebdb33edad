// Configuration mistakes an operator makes, and the messages they get: each names the variable.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { openConfiguredStores, serverConfigFromEnv } from '../../src/cli/env-config.ts';
import { tempDir } from '../helpers.ts';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), readStdin: async () => '' };
}

describe('settings are checked when read, and the message names the variable', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TOKENSTILE_LOG_LEVEL: 'verbose' }, /^TOKENSTILE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"$/],
    [{ TOKENSTILE_ACCESS_TTL: 'soon' }, /^TOKENSTILE_ACCESS_TTL must be a duration like 90s, 15m, 1h or 7d, got "soon"$/],
    [{ TOKENSTILE_ACCESS_TTL: '2d' }, /^TOKENSTILE_ACCESS_TTL must be between 1s and 86400s, got "2d"$/],
    [{ TOKENSTILE_REFRESH_TTL: '30s' }, /^TOKENSTILE_REFRESH_TTL must be between 60s and /],
    [{ TOKENSTILE_ACCESS_TTL: '1h', TOKENSTILE_REFRESH_TTL: '10m' }, /^TOKENSTILE_REFRESH_TTL \(600s\) must be longer than TOKENSTILE_ACCESS_TTL \(3600s\)$/],
    [{ TOKENSTILE_SESSION_MAX_LIFETIME: '10s' }, /^TOKENSTILE_SESSION_MAX_LIFETIME must be between 60s and /],
    [{ TOKENSTILE_ACCESS_TTL: '1h', TOKENSTILE_SESSION_MAX_LIFETIME: '30m' }, /^TOKENSTILE_SESSION_MAX_LIFETIME must be longer than TOKENSTILE_ACCESS_TTL$/],
    [{ TOKENSTILE_REVOCATION_LEASE: '1m' }, /^TOKENSTILE_REVOCATION_LEASE must be between 0\.2s and 10s, got "1m"$/],
    [{ TOKENSTILE_CLOCK_TOLERANCE: '1h' }, /^TOKENSTILE_CLOCK_TOLERANCE must be between 0s and 300s, got "1h"$/],
    [{ TOKENSTILE_REFRESH_GRACE: '-1s' }, /^TOKENSTILE_REFRESH_GRACE must be a duration/],
    [{ TOKENSTILE_ISSUER: 'ftp://auth.example.com' }, /^TOKENSTILE_ISSUER must be an http\(s\) URL/],
    // The value is quoted as given, even when it looks like an option name.
    [{ TOKENSTILE_ISSUER: 'audience' }, /^TOKENSTILE_ISSUER must be an absolute URL, got "audience"$/],
    [{ TOKENSTILE_KEY_ENCRYPTION_KEY: 'too-short-to-be-a-key' }, /^TOKENSTILE_KEY_ENCRYPTION_KEY must be 32 random bytes/],
    [{ TOKENSTILE_SMTP_URL: 'http://mail.example.com' }, /^TOKENSTILE_SMTP_URL must start with smtp:\/\/ or smtps:\/\//],
    [{ TOKENSTILE_APP_URL: 'https://app.example.com/account#x' }, /^TOKENSTILE_APP_URL must be an http\(s\) URL without a #fragment/],
    [{ TOKENSTILE_PASSWORD_RESET_TTL: '2d' }, /^TOKENSTILE_PASSWORD_RESET_TTL must be between 60s and 86400s/],
    [{ TOKENSTILE_MAGIC_LINK: 'yes' }, /^TOKENSTILE_MAGIC_LINK must be one of on, off, got "yes"$/],
  ];
  for (const [env, message] of cases) {
    test(Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' '), () => {
      assert.throws(() => serverConfigFromEnv(env), (err: Error) => {
        assert.match(err.message, message);
        assert.equal(err.name, 'ConfigError');
        return true;
      });
    });
  }

  test('the key-encryption key is never repeated in its message', () => {
    const key = 'c2VjcmV0LWJ1dC10b28tc2hvcnQ';
    assert.throws(() => serverConfigFromEnv({ TOKENSTILE_KEY_ENCRYPTION_KEY: key }), (err: Error) => !err.message.includes(key));
  });

  test('good values still pass', () => {
    const config = serverConfigFromEnv({ TOKENSTILE_LOG_LEVEL: 'warn', TOKENSTILE_ACCESS_TTL: '5m', TOKENSTILE_REFRESH_TTL: '1d', TOKENSTILE_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url') });
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.app.accessTokenTtl, '5m');
  });
});

describe('the database', () => {
  const dir = tempDir();
  after(() => dir.cleanup());
  const run = async (args: string[], env: Record<string, string>) => {
    const io = capture();
    const code = await runCli(args, io, env);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  };

  test('an unreachable PostgreSQL names TOKENSTILE_DATABASE_URL, hides the password, exits 1', async () => {
    for (const args of [['migrate'], ['purge']]) {
      const r = await run(args, { TOKENSTILE_DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:1/auth' });
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, /^tokenstile: cannot open the database TOKENSTILE_DATABASE_URL=postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/auth: .*ECONNREFUSED/);
      assert.doesNotMatch(r.err, /s3cret/);
    }
  });

  test('serve with an unreachable database names the variable and exits 1', async () => {
    const r = await run(['serve'], { PORT: '0', TOKENSTILE_DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:1/auth', TOKENSTILE_LOG_LEVEL: 'silent' });
    assert.equal(r.code, 1);
    assert.match(r.err, /TOKENSTILE_DATABASE_URL=postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/auth/);
  });

  test('serve with an unreachable Redis names TOKENSTILE_REDIS_URL and exits 1', async () => {
    const r = await run(['serve'], { PORT: '0', TOKENSTILE_DATABASE_URL: 'sqlite::memory:', TOKENSTILE_REDIS_URL: 'redis://127.0.0.1:1', TOKENSTILE_LOG_LEVEL: 'silent' });
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(redisUrl, TOKENSTILE_REDIS_URL\)/);
  });

  test('a SQLite path in a folder that does not exist is refused: no folder, no empty database', async () => {
    const missing = join(dir.path, 'dta', 'sub');
    const r = await run(['migrate'], { TOKENSTILE_DATABASE_URL: `sqlite:${missing}/tokenstile.db` });
    assert.equal(r.code, 1);
    assert.match(r.err, /^tokenstile: TOKENSTILE_DATABASE_URL=sqlite:.*: the folder ".*dta\/sub" of the SQLite database does not exist/);
    assert.equal(existsSync(join(dir.path, 'dta')), false, 'the mistyped folder was created');
  });

  test('a new SQLite file in an existing folder is created, with a warning naming the path', async () => {
    mkdirSync(join(dir.path, 'here'));
    const file = join(dir.path, 'here', 'tokenstlie.db');
    const r = await run(['migrate'], { TOKENSTILE_DATABASE_URL: `sqlite:${file}` });
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^tokenstile: warning: created a new, empty SQLite database at .*tokenstlie\.db \(TOKENSTILE_DATABASE_URL=/);
    const again = await run(['migrate'], { TOKENSTILE_DATABASE_URL: `sqlite:${file}` });
    assert.equal(again.err, '', 'warned about a database that already existed');
  });

  test('the default ./data folder is still created on a first start', async () => {
    const cwd = process.cwd();
    process.chdir(dir.path);
    try {
      const stores = await openConfiguredStores({ databaseUrl: 'sqlite:./data/tokenstile.db' });
      await stores.close();
      assert.ok(existsSync(join(dir.path, 'data', 'tokenstile.db')));
    } finally {
      process.chdir(cwd);
    }
  });
});
