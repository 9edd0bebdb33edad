// The logout guarantee, measured: three server processes on one PostgreSQL schema and one Redis
// prefix, revocations over every path, each ended session's tokens sent to all three instances the
// moment the revocation call answers. Once without other traffic, once under load (background
// protected GETs on every instance while several workers sign in, refresh and revoke at once).
import { cleanUp, postgresUrl, redisUrl, runId, startInstance, type Instance } from '../../test/scale/harness.ts';
import { clientsEnv, confirmTimes, runWorkload, type WorkloadResult } from '../../test/scale/guarantee-workload.ts';
import { stopInstances } from '../../test/scale/spare-services.ts';

export interface GuaranteeRun {
  readonly result: WorkloadResult;
  /** Revocations confirmed on the instances, and how many waited over 50 ms. */
  readonly confirm: { count: number; over50ms: number; over1s: number };
}

/** Runs the workload quiet (1 worker, no background) and under load (`workers`, `background` loops). */
export async function logoutGuarantee(options: { cycles: number; workers: number; background: number }): Promise<{ quiet: GuaranteeRun; loaded: GuaranteeRun }> {
  const id = runId('benchlg');
  const prefix = `${id}:`;
  const env = {
    TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`, TOKENSTILE_REDIS_URL: redisUrl, TOKENSTILE_REDIS_PREFIX: prefix,
    TOKENSTILE_ISSUER: 'http://bench.tokenstile.test', TOKENSTILE_RATE_LIMITS: 'off', TOKENSTILE_LOG_LEVEL: 'error',
    TOKENSTILE_REFRESH_GRACE: '0s', TOKENSTILE_CLIENTS: clientsEnv,
  };
  const instances: Instance[] = [];
  try {
    instances.push(await startInstance(env));
    instances.push(...(await Promise.all([startInstance(env), startInstance(env)])));
    // Steady state: an instance that has listened for less than a lease waits one out for the
    // instances it cannot have heard yet (docs/scaling.md); that is start-up, not logout cost.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const run = async (workers: number, cycles: number, background: number, tag: string): Promise<GuaranteeRun> => {
      const before = await confirmTimes(instances);
      const result = await runWorkload(instances, { workers, cycles, background, maxMs: 300_000, tag });
      const after = await confirmTimes(instances);
      return { result, confirm: { count: after.count - before.count, over50ms: after.over50ms - before.over50ms, over1s: after.over1s - before.over1s } };
    };
    const quiet = await run(1, options.cycles * options.workers, 0, 'quiet');
    const loaded = await run(options.workers, options.cycles, options.background, 'loaded');
    return { quiet, loaded };
  } finally {
    await stopInstances(instances);
    await cleanUp(id, prefix);
  }
}
