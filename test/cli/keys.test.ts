import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { buildApp } from '../../src/http/app.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { bearer, fastHasher, goodPassword, issuer, tempDir, uniqueEmail } from '../helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

const kidOf = (token: string) => decodeProtectedHeader(token).kid!;

/** Polls `check` every 20 ms until it returns true, failing after `timeoutMs`. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
  }
}

/**
 * The CLI beside a running server (real clock) on one SQLite file, as an operator would use them:
 * the server reads revocations every second and reloads its keys every 10 s.
 */
describe('tokenstile keys rotate and revoke, beside a running server', () => {
  const dir = tempDir();
  const databaseUrl = `sqlite:${dir.path}/keys.db`;
  const env = { TOKENSTILE_DATABASE_URL: databaseUrl, TOKENSTILE_ISSUER: issuer };
  let app: ReturnType<typeof buildApp>;
  before(async () => {
    app = buildApp({ issuer, databaseUrl, passwordHasher: fastHasher, docs: false, rateLimits: false });
    await app.ready();
  });
  after(async () => {
    await app.close();
    dir.cleanup();
  });

  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => '' };
    const code = await runCli(args, io, env);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const keyStates = async () => {
    const r = await cli('keys', 'list', '--json');
    assert.equal(r.code, 0, r.err);
    return Object.fromEntries((JSON.parse(r.out).keys as Array<{ kid: string; state: string; retiredAt: number | null }>).map((k) => [k.kid, k]));
  };
  const signUp = async () => {
    const email = uniqueEmail();
    assert.equal((await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } })).statusCode, 201);
    return signIn(email);
  };
  const signIn = async (email: string) => {
    const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { accessToken: string; refreshToken: string; session: { id: string }; user: { id: string; email: string } };
  };
  const me = (token: string) => app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });
  const published = async () => ((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys as Array<{ kid: string }>).map((k) => k.kid);

  test('a rotation while one is pending is refused; --force replaces the pending key, and the printed schedule is the one servers follow', async () => {
    const first = Object.values(await keyStates()).find((k) => k.state === 'signing')!.kid;
    const pending = await cli('keys', 'rotate', '--json');
    assert.equal(pending.code, 0, pending.err);
    const next = JSON.parse(pending.out);
    assert.equal(next.previousKid, first);

    const again = await cli('keys', 'rotate');
    assert.equal(again.code, 1, 'refused: it would replace the pending key');
    assert.match(again.err, new RegExp(`a rotation is pending: ${next.kid} signs from ${new Date(next.signsFrom).toISOString()}, when ${first} retires`));
    assert.deepEqual(Object.keys(await keyStates()).sort(), [first, next.kid].sort(), 'nothing written');

    const forced = await cli('keys', 'rotate', '--force', '--publish-ahead', '0s', '--json');
    assert.equal(forced.code, 0, forced.err);
    const r = JSON.parse(forced.out);
    assert.deepEqual(r.replaced, [next.kid]);
    assert.equal(r.previousKid, first, 'the key signing now hands over: the pending one never signed');
    const states = await keyStates();
    assert.equal(states[next.kid], undefined, 'the replaced key is gone, never to sign');
    assert.equal(states[first]!.retiredAt, r.signsFrom, 'the outgoing key retires exactly when the new one is said to sign');
    assert.equal(states[r.kid]!.state, 'signing');
    await app.tokenstile.reloadKeys(); // what the server does within 10 s on its own
    assert.equal(kidOf((await signUp()).accessToken), r.kid);
    assert.deepEqual((await published()).sort(), [first, r.kid].sort(), 'the old key stays published for its tokens; the replaced one is not');
    const audit = await app.tokenstile.audit({ limit: 20 });
    assert.ok(audit.some((e) => e.type === 'key_rotated' && e.detail.kid === r.kid && e.detail.replaced === next.kid));
  });

  test('keys revoke of a pending key ends no session and lets the signing key go on signing', async () => {
    const signing = Object.values(await keyStates()).find((k) => k.state === 'signing')!.kid;
    const s = await signUp();
    const rotated = await cli('keys', 'rotate', '--json');
    assert.equal(rotated.code, 0, rotated.err);
    const pendingKid = JSON.parse(rotated.out).kid;
    const revoked = await cli('keys', 'revoke', pendingKid, '--json');
    assert.equal(revoked.code, 0, revoked.err);
    const r = JSON.parse(revoked.out);
    assert.deepEqual([r.signed, r.sessionsEnded, r.signingKid], [null, 0, signing]);
    const states = await keyStates();
    assert.equal(states[pendingKid], undefined);
    assert.deepEqual([states[signing]!.state, states[signing]!.retiredAt], ['signing', null], 'active again: no rotation left pending');
    assert.equal((await me(s.accessToken)).statusCode, 200);
    assert.equal((await cli('keys', 'revoke', pendingKid)).code, 1, 'an unknown kid fails');
    assert.equal((await cli('keys', 'revoke')).code, 2, 'the kid is required');
  });

  test('keys revoke of the signing key: unpublished, its sessions end within a second, a token forged with it is refused within the key reload', async () => {
    const compromised = Object.values(await keyStates()).find((k) => k.state === 'signing')!.kid;
    const a = await signUp();
    const b = await signIn(a.user.email);
    assert.equal(kidOf(a.accessToken), compromised);
    // What a thief of the key can do: sign a token for any session.
    const stolen = (await internals(app.tokenstile).stores.keys.listSigningKeys()).find((k) => k.kid === compromised)!.privateJwk;
    // The server accepts only low-s ES256 signatures (one valid signature per token); jose's
    // come out high half the time, so the thief, like us, signs again until s is low.
    const halfOrder = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551') / 2n;
    const forge = async (s: { user: { id: string }; session: { id: string } }) => {
      for (;;) {
        const token = await new SignJWT({ sid: s.session.id, jti: randomUUID() })
          .setProtectedHeader({ alg: 'ES256', kid: compromised, typ: 'at+jwt' })
          .setIssuer(issuer)
          .setAudience('tokenstile')
          .setSubject(s.user.id)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(await importJWK(stolen, 'ES256'));
        const sig = Buffer.from(token.split('.')[2]!, 'base64url');
        if (BigInt(`0x${sig.subarray(32).toString('hex')}`) <= halfOrder) return token;
      }
    };
    const before = await me(await forge(a));
    assert.equal(before.statusCode, 200, `the forgery is good enough to pass before the revocation: ${before.body}`);

    const revoked = await cli('keys', 'revoke', compromised, '--json');
    assert.equal(revoked.code, 0, revoked.err);
    const r = JSON.parse(revoked.out);
    assert.ok(r.sessionsEnded >= 2, `ended ${r.sessionsEnded}`);
    assert.notEqual(r.signingKid, compromised);
    assert.match((await cli('keys', 'list')).out, new RegExp(`${r.signingKid}\\s+ES256\\s+signing`));
    assert.doesNotMatch((await cli('keys', 'list')).out, new RegExp(compromised));

    // The sessions that got its tokens end through the revocation machinery (read every second).
    await eventually('the sessions of the key refused by the running server', async () => (await me(a.accessToken)).statusCode === 401 && (await me(b.accessToken)).statusCode === 401, 10_000);
    const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: a.refreshToken } });
    assert.equal(refreshed.statusCode, 401, 'the session is ended, not only its access token');

    // A session opened after the revocation, and a forgery for it: refused once the server has
    // reloaded its keys (every 10 s), while its real tokens, from the new key, are accepted.
    await eventually('the key unpublished by the running server', async () => !(await published()).includes(compromised), 30_000);
    const c = await signIn(a.user.email);
    assert.equal(kidOf(c.accessToken), r.signingKid);
    assert.equal((await me(c.accessToken)).statusCode, 200);
    const forged = await me(await forge(c));
    assert.equal(forged.statusCode, 401);
    assert.equal(forged.json().code, 'invalid_token');
    const audit = await app.tokenstile.audit({ limit: 50 });
    assert.ok(audit.some((e) => e.type === 'key_revoked' && e.detail.kid === compromised));
    assert.ok(audit.some((e) => e.type === 'session_revoked' && e.sessionId === a.session.id && e.detail.cause === 'key_revoked'));
  });
});

test('keys revoke ends only the sessions used while the key signed', async () => {
  const dir = tempDir();
  const stores = openSqliteStores(`${dir.path}/window.db`);
  try {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const core = await createTokenstile({ stores, issuer, passwordHasher: fastHasher, clock, accessTokenTtl: '5m', refreshTokenTtl: '30d' });
    try {
      const email = uniqueEmail();
      await core.register({ email, password: goodPassword });
      const login = async () => {
        const r = await core.login({ email, password: goodPassword });
        assert.ok(r.ok);
        return r.value;
      };
      const early = await login(); // signed in while the first key signed
      clock.advance(60 * 60_000);
      const old = (await core.rotateKeys({ publishAheadMs: 0 })).previousKid!;
      clock.advance(60 * 60_000);
      const late = await login(); // only ever used while the second key signed
      clock.advance(60 * 60_000);
      assert.ok((await core.refresh(early.refreshToken)).ok, 'refreshed after the window too: still one that got a token from the key');
      const r = await core.revokeKey(old);
      assert.deepEqual(r.signed && [r.signed.from < Date.UTC(2026, 0, 1), r.signed.until >= Date.UTC(2026, 0, 1) + 60 * 60_000], [true, true]);
      assert.equal(r.sessionsEnded, 1, 'the early session');
      const live = (await core.listUserSessions(late.user.id)).map((s) => s.id);
      assert.deepEqual(live, [late.session.id], 'the session that never got a token from the key lives on');
    } finally {
      await core.close();
    }
  } finally {
    await stores.close();
    dir.cleanup();
  }
});
