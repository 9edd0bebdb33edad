// Refresh-token rotation under concurrency and crashes: one lineage, no fork, no revived session.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setImmediate } from 'node:timers/promises';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../src/core/clock.ts';
import { hashRefreshSecret } from '../../src/core/refresh-tokens.ts';
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';
import { bearer, fastHasher, goodPassword, issuer, tempDir, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from '../http/problem-assertions.ts';
import { internals } from '../../src/core/core-internals.ts';

/** SHA-256 of a refresh token's secret, as the store keeps it (tsr_ | version, session, generation, secret, tag). */
const storedHash = (token: string) => hashRefreshSecret(Buffer.from(token.slice(4), 'base64url').subarray(21, 53));

const refresh = (t: TestApp, refreshToken: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
const me = (t: TestApp, accessToken: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(accessToken) });

/** How many times the store's compare-and-swap (sessions.rotate) was called, from /metrics. */
function rotateAttempts(res: { body: string }): number {
  const counts = [...res.body.matchAll(/^tokenstile_store_operation_seconds_count\{[^}]*operation="sessions\.rotate(?:Current)?"[^}]*\} (\d+)$/gm)];
  return counts.reduce((sum, m) => sum + Number(m[1]), 0);
}

async function withApp(fn: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await testApp();
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

describe('parallel refreshes with one token', () => {
  test('100 at once: all 200 with the same successor, one live token, the original spent', (ctx) => withApp(async (t) => {
    const s = await t.signUp();
    const answers = await Promise.all(Array.from({ length: 100 }, () => refresh(t, s.refreshToken)));
    for (const res of answers) assert.equal(res.statusCode, 200, res.body);
    const bodies = answers.map((res) => res.json() as TokenBody);
    const successors = new Set(bodies.map((b) => b.refreshToken));
    assert.equal(successors.size, 1, `one lineage, got ${successors.size} successors`);
    const [successor] = successors as Set<string>;
    assert.notEqual(successor, s.refreshToken);
    assert.ok(bodies.every((b) => b.session.id === s.session.id));

    // The store holds exactly one live refresh token: generation 1, the successor's hash.
    const row = await internals(t.app.tokenstile).stores.sessions.get(s.session.id);
    assert.ok(row);
    assert.equal(row.generation, 1, 'exactly one rotation was committed');
    assert.equal(row.refreshHash, storedHash(successor!));
    assert.equal(row.previousHash, storedHash(s.refreshToken));
    assert.equal((await internals(t.app.tokenstile).stores.sessions.listLive(s.user.id, t.clock.now())).length, 1, 'no second session');
    ctx.diagnostic(`${rotateAttempts(await t.app.inject({ method: 'GET', url: '/metrics' }))} compare-and-swap attempt(s) over HTTP, one committed`);

    // Every access token handed out works, and the successor rotates normally.
    for (const res of await Promise.all(bodies.map((b) => me(t, b.accessToken)))) assert.equal(res.statusCode, 200, res.body);
    const next = await refresh(t, successor!);
    assert.equal(next.statusCode, 200, next.body);
    const third = (next.json() as TokenBody).refreshToken;

    // The original is spent: two generations back it is a replay, which ends the session.
    expectProblem(await refresh(t, s.refreshToken), 401, 'refresh_token_reused');
    expectProblem(await refresh(t, third), 401, 'invalid_refresh_token');
  }));

  test('100 at once through the core, all reaching the compare-and-swap: one winner, 99 grace answers', (ctx) => withApp(async (t) => {
    const s = await t.signUp();
    const before = rotateAttempts(await t.app.inject({ method: 'GET', url: '/metrics' }));
    const results = await Promise.all(Array.from({ length: 100 }, () => t.app.tokenstile.refresh(s.refreshToken)));
    const attempts = rotateAttempts(await t.app.inject({ method: 'GET', url: '/metrics' })) - before;
    assert.ok(attempts > 1, `the requests raced at the compare-and-swap (${attempts} attempts)`);
    ctx.diagnostic(`${attempts} compare-and-swap attempts, one committed`);
    const successors = new Set(results.map((r) => (r.ok ? r.value.refreshToken : `refused: ${r.code}`)));
    assert.equal(successors.size, 1, `one lineage, got ${successors.size} distinct answers`);
    const [successor] = successors as Set<string>;
    assert.ok(successor!.startsWith('tsr_'));
    const row = await internals(t.app.tokenstile).stores.sessions.get(s.session.id);
    assert.equal(row?.generation, 1, 'one rotation committed');
    assert.equal(row?.refreshHash, storedHash(successor!));
  }));
});

describe('parallel refreshes racing a logout', () => {
  const cases: Array<{ via: 'http' | 'core'; at: number }> = [
    ...[0, 1, 37, 63, 100].map((at) => ({ via: 'http' as const, at })),
    ...[0, 4, 6, 8, 9, 12].map((at) => ({ via: 'core' as const, at })),
  ];
  for (const { via, at } of cases) {
    test(`${via}: logout ${via === 'http' ? `as request ${at} of 101` : `${at} microtasks into 100 refreshes`}: the session stays ended, nothing it handed out works`, (ctx) => withApp(async (t) => {
      const email = uniqueEmail();
      const s = await t.signUp(email);
      const watcherRes = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } });
      assert.equal(watcherRes.statusCode, 200);
      const watcher = watcherRes.json() as TokenBody;

      const issued: Array<{ accessToken: string; refreshToken: string }> = [];
      if (via === 'http') {
        // Spread over event-loop turns, so the logout lands between refreshes at every stage.
        const requests: Array<ReturnType<typeof refresh>> = [];
        for (let i = 0; i <= 100; i += 1) {
          if (i === at) requests.push(t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.accessToken), payload: {} }));
          else requests.push(refresh(t, s.refreshToken));
          if (i % 5 === 4) await setImmediate();
        }
        const answers = await Promise.all(requests);
        const logoutRes = answers.splice(at, 1)[0]!;
        assert.equal(logoutRes.statusCode, 204, logoutRes.body);
        for (const res of answers) {
          assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body}`);
          if (res.statusCode === 200) issued.push(res.json() as TokenBody);
          else expectProblem(res, 401, 'invalid_refresh_token');
        }
      } else {
        // Straight at the core: the revoke transaction lands among the compare-and-swaps and grace answers.
        const core = t.app.tokenstile;
        const auth = await core.authenticate(s.accessToken);
        assert.ok(auth.ok);
        const refreshes = Array.from({ length: 100 }, () => core.refresh(s.refreshToken));
        const logout = (async () => {
          for (let i = 0; i < at; i += 1) await Promise.resolve();
          await core.logout(auth.value, 'local');
        })();
        const [results] = await Promise.all([Promise.all(refreshes), logout]);
        for (const r of results) {
          if (r.ok) issued.push(r.value);
          else assert.equal(r.code, 'invalid_refresh_token');
        }
      }
      const successors = new Set(issued.map((b) => b.refreshToken));
      assert.ok(successors.size <= 1, `one lineage, got ${successors.size} successors`);
      ctx.diagnostic(`${issued.length} of 100 refreshes succeeded`);

      const row = await internals(t.app.tokenstile).stores.sessions.get(s.session.id);
      assert.ok(row && row.revokedAt !== null, 'the session is revoked in the store');
      for (const token of [s.accessToken, ...issued.map((b) => b.accessToken)]) expectTokenRefused(await me(t, token), 'session_revoked');
      for (const token of [s.refreshToken, ...successors]) expectProblem(await refresh(t, token), 401, 'invalid_refresh_token');

      const list = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(watcher.accessToken) });
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(list.json().sessions.map((x: { id: string }) => x.id), [watcher.session.id], 'only the other session is left');
      assert.equal((await internals(t.app.tokenstile).stores.sessions.listLive(s.user.id, t.clock.now())).length, 1, 'no session appeared');
    }));
  }
});

interface ChildLine { event: 'login' | 'rotated' | 'error'; sessionId?: string; generation: number; refreshTokens: string[]; codes?: string[] }

/** Runs rotation-child.ts on `path` and SIGKILLs it `delayMs` after its login; returns its complete stdout lines. */
async function runAndKill(path: string, delayMs: number): Promise<ChildLine[]> {
  const script = fileURLToPath(new URL('./rotation-child.ts', import.meta.url));
  const child = spawn(process.execPath, [script, path, issuer], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let timer: NodeJS.Timeout | undefined;
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d) => {
    out += d;
    if (timer === undefined && out.includes('"event":"login"')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(guard);
  clearTimeout(timer);
  assert.equal(signal, 'SIGKILL', `the child ended by itself (code ${code}): ${err}${out.slice(-500)}`);
  return out.split('\n').slice(0, -1).map((line) => JSON.parse(line) as ChildLine);
}

describe('process killed mid-rotation', () => {
  test('no fork on restart, whatever moment the kill lands', async (t) => {
    const dir = tempDir();
    try {
      const delays = [5, 25, 60, 120, 250].map((d) => d + Math.floor(Math.random() * 20));
      for (const [run, delay] of delays.entries()) {
        const path = `${dir.path}/crash-${run}.db`;
        const lines = await runAndKill(path, delay);
        assert.equal(lines.find((l) => l.event === 'error'), undefined, 'every refresh in the child succeeded');
        const sessionId = lines[0]?.sessionId;
        assert.ok(sessionId, 'the child logged in');
        const byGeneration: string[] = [];
        for (const [i, line] of lines.entries()) {
          assert.equal(line.generation, i, 'generations are reported in order');
          assert.equal(line.refreshTokens.length, 1, `generation ${i}: parallel refreshes forked into ${line.refreshTokens.length} tokens`);
          byGeneration.push(line.refreshTokens[0]!);
        }
        const reported = byGeneration.length - 1;

        // The file survived the kill.
        const raw = new DatabaseSync(path);
        try {
          assert.deepEqual(raw.prepare('PRAGMA integrity_check').all().map((r) => r.integrity_check), ['ok']);
          assert.equal((raw.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n, 1, 'one session row');
        } finally {
          raw.close();
        }

        const stores = openSqliteStores(path);
        const core = await createTokenstile({ stores, issuer, passwordHasher: fastHasher, rateLimits: false, clock: new ManualClock(Date.now()) });
        try {
          const row = await stores.sessions.get(sessionId);
          assert.ok(row && row.revokedAt === null);
          const stored = row.generation;
          t.diagnostic(`run ${run}: killed ${delay} ms after login, ${reported} rotations reported, generation ${stored} stored`);
          assert.ok(stored === reported || stored === reported + 1, `stored generation ${stored}, reported ${reported}`);

          // The latest token: the last one reported, or (died after commit, before print) the
          // successor a grace retry with the last reported one recovers.
          let latest = byGeneration[reported]!;
          if (stored === reported + 1) {
            assert.equal(row.previousHash, storedHash(latest));
            const retry = await core.refresh(latest);
            assert.ok(retry.ok, 'the grace retry recovers the unprinted successor');
            latest = retry.value.refreshToken;
          } else if (reported > 0) {
            const retry = await core.refresh(byGeneration[reported - 1]!);
            assert.ok(retry.ok && retry.value.refreshToken === latest, 'a retry of the previous generation gets the same successor');
          }
          assert.equal(row.refreshHash, storedHash(latest), 'the store holds exactly the latest token');
          assert.equal((await stores.sessions.get(sessionId))?.generation, stored, 'retries rotated nothing');

          // It works, once; a retry of it is the grace answer (same successor); older ones are replays.
          const next = await core.refresh(latest);
          assert.ok(next.ok, 'the latest token rotates');
          const again = await core.refresh(latest);
          assert.ok(again.ok && again.value.refreshToken === next.value.refreshToken, 'one lineage after restart');
          const older = byGeneration.slice(0, stored); // generations below `stored`, now two or more behind
          for (const [i, tok] of older.entries()) {
            const res = await core.refresh(tok);
            assert.ok(!res.ok, 'an earlier token is refused');
            assert.equal(res.code, i === 0 ? 'refresh_token_reused' : 'invalid_refresh_token');
          }
          if (older.length > 0) assert.equal((await core.refresh(next.value.refreshToken)).ok, false, 'the replay ended the session');
        } finally {
          await core.close();
          await stores.close();
        }
      }
    } finally {
      dir.cleanup();
    }
  });
});
