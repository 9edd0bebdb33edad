// Fault injection on the revocation feed: three server processes on a PostgreSQL and a Redis of
// this test's own (spare ports), Redis SIGKILLed under load and started again. While the feed is
// down every instance must ask the store, so no token is accepted after its logout answered;
// once Redis is back the feed must recover and carry revocations again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, startInstance, type Instance } from './harness.ts';
import { faultCluster, metric, spareServicesProblem, type FaultCluster, type SpareServer } from './spare-services.ts';

const problem = await spareServicesProblem();
const skip = problem !== null && process.env.CI !== 'true';
if (skip) console.log(`# SKIPPED fault tests (Redis): ${problem}`);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const password = 'correct horse 42';

/**
 * Polls `condition` every 25 ms until it holds; false if it still does not after `timeoutMs`.
 * The bounds are for a machine under heavy load: a wait that ends early costs nothing.
 */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (performance.now() > deadline) return false;
    await sleep(25);
  }
}

interface Sample {
  readonly token: number;
  readonly instance: number;
  readonly sent: number;
  readonly done: number;
  readonly status: number; // 0: no answer
  readonly code: string | undefined;
}

/** GET /auth/me; status 0 when no answer came within 30 s. */
async function me(base: string, token: string): Promise<{ status: number; code: string | undefined }> {
  try {
    const res = await fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    return { status: res.status, code: res.status === 200 ? undefined : (JSON.parse(text) as { code?: string }).code };
  } catch {
    return { status: 0, code: undefined };
  }
}

describe('Redis SIGKILLed under load (3 instances, own Redis and PostgreSQL)', { skip: skip ? problem! : false }, () => {
  let redis: SpareServer | undefined;
  let pg: SpareServer | undefined;
  let instances: Instance[] = [];
  let cluster: FaultCluster | undefined;

  before(async () => {
    if (problem) throw new Error(problem); // CI=true: missing binaries fail the run
    cluster = await faultCluster();
    ({ redis, pg, instances } = cluster);
  });

  after(() => cluster?.stop());

  // Every step waits for the state it needs (feeds down, every instance refusing, feeds healthy,
  // in-flight requests done), so a busy machine makes the test slower, not red.
  test('kill Redis under load → zero revoked tokens accepted', { timeout: 180_000 }, async (t) => {
    const n = instances.length;
    const healthy = () => Promise.all(instances.map((i) => metric(i.url, 'tokenstile_revocation_feed_healthy')));
    // 60 sessions of 6 users, logged in over all instances.
    const tokens: string[] = [];
    for (let u = 0; u < 6; u++) {
      const email = `load${u}@example.com`;
      assert.equal((await call(instances[u % n]!.url, 'POST', '/auth/register', { email, password })).status, 201);
      const logins = await Promise.all(Array.from({ length: 10 }, (_, k) => call(instances[k % n]!.url, 'POST', '/auth/login', { email, password })));
      for (const l of logins) {
        assert.equal(l.status, 200, JSON.stringify(l.json));
        tokens.push(l.json.accessToken);
      }
    }
    // More sessions, outside the load, for the store-check probe below (one per attempt).
    const probeTokens: string[] = [];
    for (let k = 0; k < 3; k++) probeTokens.push((await call(instances[0]!.url, 'POST', '/auth/login', { email: 'load0@example.com', password })).json.accessToken as string);
    const toRevoke = tokens.map((_, i) => i).filter((i) => i % 2 === 1);
    const revoked = new Set(toRevoke);
    const logoutAnswered = new Map<number, number>(); // token → when its logout answered 204
    const samples: Sample[] = [];

    // The load: 24 workers, each request a (token, instance) pair in turn, until stopped (at most 120 s).
    const t0 = performance.now();
    let stop = false;
    let next = 0;
    const inFlight: Array<number | undefined> = []; // per worker: when its request under way was sent
    const worker = async (w: number) => {
      while (!stop && performance.now() - t0 < 120_000 && samples.length < 500_000) {
        const k = next++;
        const token = k % tokens.length;
        const instance = Math.floor(k / tokens.length) % n;
        const sent = performance.now();
        inFlight[w] = sent;
        const r = await me(instances[instance]!.url, tokens[token]!);
        inFlight[w] = undefined;
        samples.push({ token, instance, sent, done: performance.now(), status: r.status, code: r.code });
      }
    };
    const load = Promise.all(Array.from({ length: 24 }, (_, w) => worker(w)));
    /** Waits until every request sent before `mark` has been answered. */
    const settled = (mark: number) => until(() => inFlight.every((sent) => sent === undefined || sent >= mark), 60_000);
    /** Waits until every instance has answered `count` load requests sent after `mark` (and matching `also`). */
    const served = (mark: number, count: number, also: (s: Sample) => boolean = () => true) =>
      until(() => instances.every((_, i) => samples.filter((s) => s.instance === i && s.sent > mark && also(s)).length >= count), 60_000);

    // The load reaches every instance, with every feed healthy, before the kill.
    assert.ok(await served(t0, 5, (s) => s.status === 200), 'every instance served the load');
    assert.ok(await until(async () => (await healthy()).every((h) => h === 1), 30_000), 'every feed healthy before the kill');
    const killAt = performance.now();
    await redis!.kill();

    // Half the sessions logged out while Redis is down, spread over ~2.4 s and over the instances.
    // No wait for the instances to notice: a logout that answered must hold everywhere at once.
    const logouts = toRevoke.map(async (token, k) => {
      await sleep(k * 80);
      const r = await call(instances[k % n]!.url, 'POST', '/auth/logout', undefined, tokens[token]);
      if (r.status === 204) logoutAnswered.set(token, performance.now());
      return r.status;
    });
    // The probe: logged out on instance 0 once every instance knows its feed is down, while
    // /auth/me with it goes to the others every 5 ms. Between the logout's write and their next
    // poll of the store (1 s) only a store check can refuse it; should a poll come first on both
    // (a busy machine), the next attempt uses the next probe session.
    assert.ok(await until(async () => (await healthy()).every((h) => h === 0), 30_000), 'every instance noticed that the feed is down');
    const probeRevoked = () => Promise.all(instances.slice(1).map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total', { outcome: 'revoked' })));
    const probed: { sent: number; status: number; logoutAnswered: number }[] = [];
    const probeStatuses: number[] = [];
    let probeChecks = 0;
    for (const probeToken of probeTokens) {
      const checksBefore = await probeRevoked();
      let answered = Number.NaN;
      const probeLogout = call(instances[0]!.url, 'POST', '/auth/logout', undefined, probeToken).then((r) => {
        answered = performance.now();
        return r.status;
      });
      const attempt: Promise<{ sent: number; status: number }>[] = [];
      // Until the logout has answered and 20 more probes were sent (at least 100 in all).
      const startedAt = performance.now();
      for (let k = 0, after = 0; (Number.isNaN(answered) || after < 20 || k < 100) && performance.now() - startedAt < 60_000; k++) {
        if (!Number.isNaN(answered)) after += 1;
        const sent = performance.now();
        attempt.push(me(instances[1 + (k % (n - 1))]!.url, probeToken).then((r) => ({ sent, status: r.status })));
        await sleep(5);
      }
      probeStatuses.push(await probeLogout);
      for (const p of await Promise.all(attempt)) probed.push({ ...p, logoutAnswered: answered });
      probeChecks += (await probeRevoked()).reduce((sum, c, i) => sum + c - checksBefore[i]!, 0);
      if (probeChecks > 0) break;
    }
    const logoutStatuses = await Promise.all(logouts);
    const lastLogout = Math.max(...logoutAnswered.values());
    // Every instance has refused revoked tokens sent after the last logout answered.
    assert.ok(await served(lastLogout, 1, (s) => revoked.has(s.token) && s.status === 401), 'every instance refused revoked tokens after the last logout');
    const restartAt = performance.now();
    const degradedChecks = await Promise.all(instances.map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total', { outcome: 'live' })));
    const revokedChecks = await Promise.all(instances.map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total', { outcome: 'revoked' })));
    await redis!.start();

    // Every instance's feed healthy again.
    const recovered = await until(async () => (await healthy()).every((h) => h === 1), 30_000);
    const healthyAt = recovered ? performance.now() : Number.NaN;
    // Load goes on after recovery, served from memory again: no more store checks. Requests sent
    // before the recovery may still be checking the store: the count starts once they are done.
    const storeChecks = () => Promise.all(instances.map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total')));
    assert.ok(await settled(performance.now()), 'the requests sent before the recovery were answered');
    const recoveredMark = performance.now();
    const checksAfterRecovery = await storeChecks();
    const loadAfterRecovery = await served(recoveredMark, 50);
    stop = true;
    await load;
    const loadEnd = performance.now();
    const checksAtEnd = await storeChecks();
    const samplesAfterRecovery = samples.filter((s) => s.sent > recoveredMark).length;

    assert.deepEqual(logoutStatuses, toRevoke.map(() => 204), 'every logout made while Redis was down answered 204');
    const violations = samples.filter((s) => s.status === 200 && revoked.has(s.token) && s.sent > logoutAnswered.get(s.token)!);
    const duringOutage = (s: Sample) => s.sent >= killAt && s.done <= restartAt;
    const refusedDown = samples.filter((s) => duringOutage(s) && revoked.has(s.token) && s.sent > logoutAnswered.get(s.token)! && s.status === 401);
    const liveDown = samples.filter((s) => duringOutage(s) && !revoked.has(s.token));
    const liveFailed = samples.filter((s) => !revoked.has(s.token) && s.status !== 200);
    const byStatus: Record<string, number> = {};
    for (const s of samples) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;

    t.diagnostic(
      `requests sent: ${samples.length} in ${((loadEnd - t0) / 1000).toFixed(1)} s (by status ${JSON.stringify(byStatus)}); Redis down ${((restartAt - killAt) / 1000).toFixed(1)} s; ` +
        `logouts while down: ${logoutAnswered.size} (last answered ${((lastLogout - killAt) / 1000).toFixed(2)} s after the kill)`,
    );
    t.diagnostic(
      `revoked-token requests refused (401) while Redis was down: ${refusedDown.length}; live-token requests while down: ${liveDown.length} (non-200 live answers overall: ${liveFailed.length}); ` +
        `degraded store checks per instance: live ${degradedChecks.join('/')}, revoked ${revokedChecks.join('/')} (probe: ${probed.filter((p) => p.status === 401).length} of ${probed.length} refused, ${probeChecks} by a store check); violations: ${violations.length}; ` +
        `feed healthy on every instance ${(healthyAt - restartAt).toFixed(0)} ms after the restart; ` +
        `${samplesAfterRecovery} requests after recovery (once those sent before it were answered), with ${checksAtEnd.map((c, i) => c - checksAfterRecovery[i]!).join('/')} store checks`,
    );

    assert.equal(violations.length, 0, `revoked tokens accepted after their logout answered: ${JSON.stringify(violations.slice(0, 5).map((v) => ({ ...v, afterLogoutMs: v.sent - logoutAnswered.get(v.token)!, sinceKillMs: v.sent - killAt, sinceRestartMs: v.sent - restartAt })))}`);
    assert.deepEqual(probeStatuses, probeStatuses.map(() => 204));
    assert.deepEqual(probed.filter((p) => p.status === 200 && p.sent > p.logoutAnswered), [], 'a probe token accepted after its logout answered');
    assert.ok(probeChecks > 0, 'the other instances refused the probe token by asking the store');
    assert.ok(refusedDown.length > 0, 'revoked tokens were refused while Redis was down');
    assert.ok(refusedDown.every((s) => s.code === 'session_revoked'));
    for (const [i, c] of degradedChecks.entries()) assert.ok(c > 0, `instance ${i} asked the store while the feed was down`);
    assert.ok(liveDown.length > 0);
    assert.equal(liveFailed.length, 0, `live tokens not answered 200: ${JSON.stringify(liveFailed.slice(0, 5))}`);
    assert.ok(Number.isFinite(healthyAt), 'the feed recovered on every instance within 30 s of the restart');
    assert.ok(loadAfterRecovery, 'load went on after recovery: every instance served 50 requests');
    assert.deepEqual(checksAtEnd, checksAfterRecovery, 'after recovery, requests are checked in memory again (no store checks)');

    // The feed carries revocations again: a logout after recovery is refused on another instance,
    // which heard it through the feed (its lag histogram counts feed arrivals; the store poll
    // would refuse it too, but adds nothing there).
    const live = tokens.map((_, i) => i).filter((i) => !revoked.has(i)).slice(0, 6);
    const propagation: number[] = [];
    for (const [k, token] of live.entries()) {
      const origin = instances[k % n]!;
      const other = instances[(k + 1) % n]!;
      const heardBefore = await metric(other.url, 'tokenstile_revocation_feed_lag_seconds_count');
      assert.equal((await me(other.url, tokens[token]!)).status, 200);
      assert.equal((await call(origin.url, 'POST', '/auth/logout', undefined, tokens[token])).status, 204);
      const answered = performance.now();
      let refused = Number.NaN;
      let code: string | undefined;
      const heard = await until(async () => {
        if (Number.isNaN(refused)) {
          const r = await me(other.url, tokens[token]!);
          if (r.status === 401) [refused, code] = [performance.now(), r.code];
        }
        return !Number.isNaN(refused) && (await metric(other.url, 'tokenstile_revocation_feed_lag_seconds_count')) > heardBefore;
      }, 30_000);
      assert.ok(Number.isFinite(refused), 'a logout after recovery was refused on another instance');
      assert.equal(code, 'session_revoked');
      assert.ok(heard, 'the revocation arrived through the feed');
      propagation.push(refused - answered);
    }
    t.diagnostic(`after recovery: ${propagation.length} logouts refused on another instance after ${propagation.map((p) => p.toFixed(1)).join(', ')} ms`);
  });
});
