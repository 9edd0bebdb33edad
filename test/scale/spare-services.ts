// Throwaway Redis and PostgreSQL servers on spare loopback ports, for the fault tests: they are
// killed (SIGKILL) and started again on the same port and data directory, which the shared
// servers on 5432/6379 must never be. Every process started here is killed, and every directory
// removed, by `stop()` and, should the test process end without it, by an exit hook.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startInstance, type Instance } from './harness.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A sleep that does not keep the process alive (for races against an exit). */
const unrefSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres, or null. */
function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(base, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'pg_isready'))) return bin;
  }
  return null;
}

async function which(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/** Why the spare servers cannot be started here, or null when they can. */
export async function spareServicesProblem(): Promise<string | null> {
  if (!(await which('redis-server'))) return 'redis-server is not installed';
  if (postgresBinDir() === null) return 'PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin) are not installed';
  if (!(await which('runuser'))) return 'runuser is not installed';
  if (process.getuid?.() !== 0) return 'not root: cannot run PostgreSQL as the postgres OS user';
  try {
    await run('id', ['-u', 'postgres']);
  } catch {
    return 'there is no postgres OS user';
  }
  return null;
}

// What is still alive, killed and removed synchronously if the test process ends without stop().
const liveGroups = new Set<number>();
const livePostmasters = new Set<number>();
const liveDirs = new Set<string>();
function killEverything(): void {
  // Postmasters first by an immediate shutdown (SIGQUIT), which still removes their shared
  // memory, waited for synchronously (this runs in an exit hook) for up to 3 s; then SIGKILL.
  for (const pid of livePostmasters) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 3_000;
  while ([...livePostmasters].some(alive) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  const pids = [...livePostmasters].flatMap((pid) => [pid, ...descendants(pid)]);
  for (const [pid, group] of [...pids.map((p) => [p, false] as const), ...[...liveGroups].map((g) => [g, true] as const)]) {
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}
process.once('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killEverything();
    process.kill(process.pid, signal); // the default action, now that this listener is gone
  });
}

/** A child in a process group of its own (so SIGKILL reaches everything it forked). */
function spawnGroup(cmd: string, args: string[], cwd: string): { child: ChildProcess; exited: Promise<void>; output: () => string } {
  const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  liveGroups.add(child.pid!);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      liveGroups.delete(child.pid!);
      resolve();
    }),
  );
  return { child, exited, output: () => out };
}

/** SIGKILLs a process group and waits for its leader to be reaped. */
async function killGroup(p: { child: ChildProcess; exited: Promise<void> } | null): Promise<void> {
  if (!p) return;
  try {
    process.kill(-p.child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  await p.exited;
}

/** A server that can be SIGKILLed and started again on the same port (and data). */
export interface SpareServer {
  readonly port: number;
  readonly url: string;
  /** True between start() and kill(). */
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGKILL: no shutdown, connections cut at once. */
  kill(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** A Redis server (no persistence) on a spare port; not yet started. */
export async function spareRedis(): Promise<SpareServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tokenstile-faults-redis-'));
  liveDirs.add(dir);
  let proc: ReturnType<typeof spawnGroup> | null = null;
  const server: SpareServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return proc !== null;
    },
    async start() {
      if (proc) throw new Error('redis already running');
      const p = spawnGroup('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
      proc = p;
      // Bounds for a machine under load; an idle one answers within milliseconds.
      const deadline = Date.now() + 30_000;
      while (!(await redisPing(port))) {
        if (p.child.exitCode !== null || Date.now() > deadline) {
          await killGroup(p);
          proc = null;
          throw new Error(`redis-server on ${port} did not answer PING: ${p.output()}`);
        }
        await sleep(20);
      }
    },
    async kill() {
      const p = proc;
      proc = null;
      await killGroup(p);
    },
    async stop() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
  return server;
}

/** True while `pid` runs (a zombie does not count). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process whose parent is `pid`, recursively (read from /proc). */
function descendants(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry), ...descendants(Number(entry)));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/**
 * A PostgreSQL cluster (initdb'd in a temporary directory owned by the postgres OS user, trust
 * authentication, fsync off) on a spare port; not yet started. URL: the `postgres` database as
 * user `postgres`.
 */
export async function sparePostgres(): Promise<SpareServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tokenstile-faults-pg-'));
  liveDirs.add(dir);
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  chownSync(dir, uid, gid);
  await run('runuser', ['-u', 'postgres', '--', join(bin, 'initdb'), '-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'], { cwd: dir });
  let proc: ReturnType<typeof spawnGroup> | null = null;
  let postmaster: number | null = null;
  let crashed = false; // killed, not yet started again
  const ready = async () => {
    try {
      await run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '1']);
      return true;
    } catch {
      return false;
    }
  };
  const server: SpareServer = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get running() {
      return proc !== null;
    },
    async start() {
      if (proc) throw new Error('postgres already running');
      const args = ['-u', 'postgres', '--', join(bin, 'postgres'), '-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
      const p = spawnGroup('runuser', args, dir);
      proc = p;
      const deadline = Date.now() + 60_000;
      while (!(await ready())) {
        if (p.child.exitCode !== null || Date.now() > deadline) {
          await server.kill();
          throw new Error(`postgres on ${port} did not become ready: ${p.output()}`);
        }
        await sleep(50);
      }
      postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      livePostmasters.add(postmaster);
    },
    async kill() {
      const p = proc;
      proc = null;
      // The postmaster and every backend at once (backends run in sessions of their own, so the
      // process group does not reach them). runuser, still alive, reaps the postmaster: a
      // zombie postmaster would keep postmaster.pid "in use" and stop the restart.
      const pids = postmaster === null ? [] : [postmaster, ...descendants(postmaster)];
      if (postmaster !== null) livePostmasters.delete(postmaster);
      crashed = postmaster !== null;
      postmaster = null;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (p) await Promise.race([p.exited, unrefSleep(3_000)]);
      await killGroup(p);
    },
    async stop() {
      // A fast shutdown (SIGINT) at the end, so that the postmaster removes its shared memory;
      // SIGKILL only if it does not finish in time. Left killed (a test failed meanwhile), it is
      // started once more first: startup removes what the killed one left in shared memory.
      if (!proc && crashed) await server.start().catch(() => {});
      const p = proc;
      if (p && postmaster !== null) {
        try {
          process.kill(postmaster, 'SIGINT');
        } catch {
          // already gone
        }
        await Promise.race([p.exited, unrefSleep(10_000)]);
      }
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
  return server;
}

/** Stops server processes: SIGTERM, then SIGKILL for any still running after 3 s. */
export async function stopInstances(instances: readonly Instance[]): Promise<void> {
  await Promise.allSettled(
    instances.map(async (i) => {
      const term = i.stop('SIGTERM');
      if ((await Promise.race([term.then(() => true), unrefSleep(3_000).then(() => false)])) === false) await i.stop('SIGKILL');
    }),
  );
}

/**
 * The value of a metric in an instance's /metrics (Prometheus text), summed over the series
 * whose labels include `labels`; 0 when there is none.
 */
export async function metric(base: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => set.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Own Redis and PostgreSQL on spare ports, and three Tokenstile instances on them. */
export interface FaultCluster {
  readonly redis: SpareServer;
  readonly pg: SpareServer;
  readonly instances: Instance[];
  stop(): Promise<void>;
}

/**
 * Starts a spare Redis and PostgreSQL and three instances on them (rate limits off, `env` added).
 * The first instance migrates the empty database; the other two then start together.
 */
export async function faultCluster(env: Record<string, string> = {}): Promise<FaultCluster> {
  const redis = await spareRedis();
  const pg = await sparePostgres();
  const instances: Instance[] = [];
  const stop = async () => {
    await stopInstances(instances);
    await Promise.allSettled([redis.stop(), pg.stop()]);
  };
  try {
    await Promise.all([redis.start(), pg.start()]);
    const all = { TOKENSTILE_DATABASE_URL: pg.url, TOKENSTILE_REDIS_URL: redis.url, TOKENSTILE_ISSUER: 'http://tokenstile.faults.test', TOKENSTILE_RATE_LIMITS: 'off', ...env };
    // Up to a minute each to become ready: three processes starting at once on a busy machine.
    instances.push(await startInstance(all, 60_000));
    instances.push(...(await Promise.all([startInstance(all, 60_000), startInstance(all, 60_000)])));
    return { redis, pg, instances, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
