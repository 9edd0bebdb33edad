/**
 * Wraps `task` so that at most one run is under way: calling while it runs returns that run.
 * `idle()` waits for the current run, if any, without starting one.
 */
export function single(task: () => Promise<void>): { run: () => Promise<void>; idle: () => Promise<void> } {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return running;
    const p = Promise.resolve().then(task);
    running = p;
    // Cleared on settling whatever happens, so one failure cannot wedge later runs.
    p.finally(() => {
      if (running === p) running = null;
    }).catch(() => {});
    return p;
  };
  return { run, idle: async () => void (await running?.catch(() => {})) };
}
