import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { internals } from '../../src/core/core-internals.ts';
import { totpCode } from '../features/mfa/totp-code.ts';
import { buildApp } from '../../src/http/app.ts';
import { bearer, fastHasher, goodPassword, issuer, problemOf, tempDir } from '../helpers.ts';

const dir = tempDir();
const env = { TOKENSTILE_DATABASE_URL: `sqlite:${dir.path}/cli.db`, TOKENSTILE_ISSUER: issuer };
let app: ReturnType<typeof buildApp>;

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => '' };
  const code = await runCli(args, io, env);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

before(async () => {
  app = buildApp({ issuer, databaseUrl: env.TOKENSTILE_DATABASE_URL, passwordHasher: fastHasher, docs: false, rateLimits: false });
  await app.ready();
});
after(async () => {
  await app.close();
  dir.cleanup();
});

test('users mfa-reset USER removes TOTP, ends every session and is audited; the password alone signs in again', async () => {
  const email = 'lost-phone@example.com';
  assert.equal((await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } })).statusCode, 201);
  const s = (await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).json();
  const { secret } = (await app.inject({ method: 'POST', url: '/auth/mfa/totp/setup', headers: bearer(s.accessToken), payload: {} })).json();
  const confirmed = await app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers: bearer(s.accessToken), payload: { code: totpCode(secret, Date.now()) } });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  assert.equal(problemOf(await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).code, 'mfa_required');

  const r = await run(['users', 'mfa-reset', email, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual({ ...JSON.parse(r.out), user: undefined }, { user: undefined, totp: true, passkeys: 0 });
  await internals(app.tokenstile).syncRevocations();
  assert.equal(problemOf(await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) })).code, 'session_revoked');
  assert.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).statusCode, 200);
  const audit = await run(['audit', '--user', email, '--json']);
  assert.ok(audit.out.split('\n').some((line) => JSON.parse(line).type === 'mfa.reset'), audit.out);

  const text = await run(['users', 'mfa-reset', '--user', email]);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /none were set up; all of their sessions ended/);
  const unknown = await run(['users', 'mfa-reset', 'nobody@example.com']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no user/);
  assert.equal((await run(['users', 'mfa-reset'])).code, 2, 'no user given: wrong usage');
});
