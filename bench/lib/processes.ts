// Child processes for the bench: protected-route servers (bench/protected-server.ts) and load
// from autocannon on loopback, bounded in time.
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ProtectedServerSpec } from './modes.ts';

/** A started protected-route server, or why its mode is not available. */
export type StartedServer =
  | { readonly ok: true; readonly child: ChildProcess; readonly port: number; readonly token: string; readonly revocations: number; stop(): Promise<void> }
  | { readonly ok: false; readonly reason: string };

/** Starts bench/protected-server.ts with `spec` and waits for its first line. */
export async function startProtectedServer(spec: ProtectedServerSpec): Promise<StartedServer> {
  const child = spawn(process.execPath, [new URL('../protected-server.ts', import.meta.url).pathname, JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server (${spec.mode}) exited with ${code}`)));
  });
  const info = JSON.parse(line) as { unavailable?: string; port: number; token: string; revocations: number };
  if (info.unavailable) return { ok: false, reason: info.unavailable };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    ok: true,
    child,
    port: info.port,
    token: info.token,
    revocations: info.revocations,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** A bench server process that reports its CPU use (`GET /__bench/cpu`), started by `startCpuServer`. */
export interface CpuServer {
  readonly base: string;
  /** What the process printed when it was listening (its `port`, and what else it says). */
  readonly info: Record<string, unknown>;
  /** The process's CPU time so far (µs) and how many requests it answered, the control endpoint aside. */
  cpu(): Promise<{ micros: number; requests: number }>;
  stop(): Promise<void>;
}

/** Starts `node <script> ...args` and waits for its first line, `{port, …}`. */
export async function startCpuServer(script: URL, args: readonly string[], what: string): Promise<CpuServer> {
  const child = spawn(process.execPath, [script.pathname, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const line = await Promise.race([
    new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)),
    exited.then(() => {
      throw new Error(`bench server (${what}) exited with ${child.exitCode}`);
    }),
  ]);
  const info = JSON.parse(line) as { port: number } & Record<string, unknown>;
  const base = `http://127.0.0.1:${info.port}`;
  return {
    base,
    info,
    async cpu() {
      const r = (await (await fetch(`${base}/__bench/cpu`)).json()) as { user: number; system: number; requests: number };
      return { micros: r.user + r.system, requests: r.requests };
    },
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** What one load run measured. */
export interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
}

/** GET `url` with `headers` from `connections` connections for `seconds`. */
export async function load(url: string, headers: Record<string, string>, seconds: number, connections = 32): Promise<Load> {
  const r = await autocannon({ url, connections, duration: seconds, headers });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors };
}
