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

interface Sample {
  readonly token: number;
  readonly instance: number;
  readonly sent: number;
  readonly done: number;
  readonly status: number; // 0: no answer
  readonly code: string | undefined;
}

/** GET /auth/me; status 0 when no answer came within 10 s. */
async function me(base: string, token: string): Promise<{ status: number; code: string | undefined }> {
  try {
    const res = await fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
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

  test('kill Redis under load → zero revoked tokens accepted', { timeout: 45_000 }, async (t) => {
    const n = instances.length;
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
    // One more session, outside the load, for the store-check probe below.
    const probeToken = (await call(instances[0]!.url, 'POST', '/auth/login', { email: 'load0@example.com', password })).json.accessToken as string;
    const toRevoke = tokens.map((_, i) => i).filter((i) => i % 2 === 1);
    const revoked = new Set(toRevoke);
    const logoutAnswered = new Map<number, number>(); // token → when its logout answered 204
    const samples: Sample[] = [];

    // The load: 24 workers, each request a (token, instance) pair in turn, for at most 15 s.
    const t0 = performance.now();
    let stop = false;
    let next = 0;
    const worker = async () => {
      while (!stop && performance.now() - t0 < 15_000 && samples.length < 200_000) {
        const k = next++;
        const token = k % tokens.length;
        const instance = Math.floor(k / tokens.length) % n;
        const sent = performance.now();
        const r = await me(instances[instance]!.url, tokens[token]!);
        samples.push({ token, instance, sent, done: performance.now(), status: r.status, code: r.code });
      }
    };
    const load = Promise.all(Array.from({ length: 24 }, worker));

    await sleep(1500);
    const killAt = performance.now();
    await redis!.kill();

    // Half the sessions logged out while Redis is down, spread over ~2.4 s and over the instances.
    const logouts = toRevoke.map(async (token, k) => {
      await sleep(k * 80);
      const r = await call(instances[k % n]!.url, 'POST', '/auth/logout', undefined, tokens[token]);
      if (r.status === 204) logoutAnswered.set(token, performance.now());
      return r.status;
    });
    // The probe: logged out on instance 0 while /auth/me with it is sent to the others every 5 ms.
    // Between the logout's write and their next poll of the store (≤ 1 s) only a store check
    // can refuse it.
    await sleep(1000);
    const probeChecksBefore = await Promise.all(instances.slice(1).map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total', { outcome: 'revoked' })));
    let probeAnswered = Infinity;
    const probeLogout = call(instances[0]!.url, 'POST', '/auth/logout', undefined, probeToken).then((r) => {
      if (r.status === 204) probeAnswered = performance.now();
      return r.status;
    });
    const probeSamples: Promise<{ sent: number; status: number }>[] = [];
    for (let k = 0; k < 240; k++) {
      const sent = performance.now();
      probeSamples.push(me(instances[1 + (k % (n - 1))]!.url, probeToken).then((r) => ({ sent, status: r.status })));
      await sleep(5);
    }
    const probeStatus = await probeLogout;
    const probed = await Promise.all(probeSamples);
    const probeChecks = (await Promise.all(instances.slice(1).map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total', { outcome: 'revoked' })))).reduce((sum, c, i) => sum + c - probeChecksBefore[i]!, 0);
    const logoutStatuses = await Promise.all(logouts);
    const lastLogout = Math.max(...logoutAnswered.values());
    await sleep(500);
    const restartAt = performance.now();
    const degradedChecks = await Promise.all(instances.map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total', { outcome: 'live' })));
    const revokedChecks = await Promise.all(instances.map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total', { outcome: 'revoked' })));
    await redis!.start();

    // Every instance's feed healthy again.
    let healthyAt = Number.NaN;
    while (performance.now() - restartAt < 10_000) {
      const health = await Promise.all(instances.map((i) => metric(i.url, 'tokenstile_revocation_feed_healthy')));
      if (health.every((h) => h === 1)) {
        healthyAt = performance.now();
        break;
      }
      await sleep(50);
    }
    // Load goes on after recovery, served from memory again: no more store checks.
    const storeChecks = () => Promise.all(instances.map((i) => metric(i.url, 'tokenstile_degraded_store_checks_total')));
    await sleep(300);
    const checksAfterRecovery = await storeChecks();
    const samplesAfterRecovery = samples.length;
    await sleep(1200);
    stop = true;
    await load;
    const loadEnd = performance.now();
    const checksAtEnd = await storeChecks();

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
        `${samples.length - samplesAfterRecovery} requests from 0.3 s after recovery on, with ${checksAtEnd.map((c, i) => c - checksAfterRecovery[i]!).join('/')} store checks`,
    );

    assert.equal(violations.length, 0, `revoked tokens accepted after their logout answered: ${JSON.stringify(violations.slice(0, 5).map((v) => ({ ...v, afterLogoutMs: v.sent - logoutAnswered.get(v.token)!, sinceKillMs: v.sent - killAt, sinceRestartMs: v.sent - restartAt })))}`);
    assert.equal(probeStatus, 204);
    assert.deepEqual(probed.filter((p) => p.status === 200 && p.sent > probeAnswered), [], 'the probe token accepted after its logout answered');
    assert.ok(probeChecks > 0, 'the other instances refused the probe token by asking the store');
    assert.ok(refusedDown.length > 0, 'revoked tokens were refused while Redis was down');
    assert.ok(refusedDown.every((s) => s.code === 'session_revoked'));
    for (const [i, c] of degradedChecks.entries()) assert.ok(c > 0, `instance ${i} asked the store while the feed was down`);
    assert.ok(liveDown.length > 0);
    assert.equal(liveFailed.length, 0, `live tokens not answered 200: ${JSON.stringify(liveFailed.slice(0, 5))}`);
    assert.ok(Number.isFinite(healthyAt), 'the feed recovered on every instance within 10 s of the restart');
    assert.ok(samples.length - samplesAfterRecovery > 100, 'load went on after recovery');
    assert.deepEqual(checksAtEnd, checksAfterRecovery, 'after recovery, requests are checked in memory again (no store checks)');

    // The feed carries revocations again: a logout after recovery is refused elsewhere within 1 s,
    // and the other instance heard it through the feed (its lag histogram counts feed arrivals).
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
      while (performance.now() - answered < 1000) {
        const r = await me(other.url, tokens[token]!);
        if (r.status === 401) {
          assert.equal(r.code, 'session_revoked');
          refused = performance.now();
          break;
        }
      }
      assert.ok(Number.isFinite(refused), `a logout after recovery was not refused on another instance within 1 s`);
      propagation.push(refused - answered);
      assert.ok((await metric(other.url, 'tokenstile_revocation_feed_lag_seconds_count')) > heardBefore, 'the revocation arrived through the feed');
    }
    t.diagnostic(`after recovery: ${propagation.length} logouts refused on another instance after ${propagation.map((p) => p.toFixed(1)).join(', ')} ms`);
  });
});
