// The workload of the logout-guarantee tests and benchmark: background protected GETs on every
// instance, and workers that each sign in, refresh, end the session by one of the revocation
// paths, and send every token of the ended session to every instance the moment the revocation
// call answers. Any 200 then is a token accepted after its revocation answered.
import { randomBytes } from 'node:crypto';
import type { Instance } from './harness.ts';

export const password = 'correct horse 42';
/** The client the workload uses for RFC 7009 revocation: give it to the instances as TOKENSTILE_CLIENTS. */
export const client = { id: 'guarantee-rs', secret: randomBytes(24).toString('base64url') };
export const clientsEnv = `${client.id}:${client.secret}`;

/** Every way a session ends that the guarantee covers. */
export const paths = ['logout', 'logout_global', 'logout_others', 'session_delete', 'password_change', 'refresh_reuse', 'oauth_revoke'] as const;
export type RevocationPath = (typeof paths)[number];

export interface Acceptance {
  readonly path: RevocationPath;
  readonly instance: number;
  /** Milliseconds between the revocation's answer and the 200. */
  readonly afterMs: number;
}

export interface WorkloadResult {
  /** Revocation calls that answered as they should, per path. */
  readonly revocations: Record<RevocationPath, number>;
  /** Tokens of ended sessions sent to an instance after the answer (each instance counts once). */
  readonly checks: number;
  readonly accepted: Acceptance[];
  /** Duration of each revocation call, ms. */
  readonly latencies: number[];
  /** Background protected requests answered (any status), and the answers that were not 200 or 503 (their sessions never end). */
  readonly background: { readonly answered: number; readonly unexpected: string[] };
  /** Answers of the workers' own calls that were neither the expected nor a 503 (for diagnosis). */
  readonly failures: string[];
}

interface Answer {
  status: number;
  json: any;
}

async function send(base: string, method: string, path: string, init: { body?: unknown; token?: string; form?: Record<string, string>; basic?: boolean } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  if (init.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.basic) headers.authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  try {
    const res = await fetch(`${base}${path}`, { method, headers, body, signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : null };
  } catch (err) {
    return { status: 0, json: { error: String(err) } };
  }
}

/**
 * Runs `workers` workers for `cycles` revocations each (rotating over the paths and instances),
 * with `background` loops of GET /auth/me over all instances until the workers are done. Every
 * loop is bounded: by its count, and by `maxMs` overall. `progress.revocations` counts the
 * revocations answered so far, for a test that injects a fault once the workload is under way.
 */
export async function runWorkload(
  instances: readonly Instance[],
  options: { workers: number; cycles: number; background: number; maxMs: number; tag: string; progress?: { revocations: number } },
): Promise<WorkloadResult> {
  const n = instances.length;
  const url = (k: number) => instances[((k % n) + n) % n]!.url;
  const deadline = performance.now() + options.maxMs;
  const revocations = Object.fromEntries(paths.map((p) => [p, 0])) as Record<RevocationPath, number>;
  const accepted: Acceptance[] = [];
  const latencies: number[] = [];
  const failures: string[] = [];
  let checks = 0;

  const signIn = async (email: string, on: number): Promise<{ access: string; refresh: string; sid: string }> => {
    for (let attempt = 0; ; attempt++) {
      const r = await send(url(on + attempt), 'POST', '/auth/login', { body: { email, password } });
      if (r.status === 200) {
        // The session id is the access token's `sid` (or, for an opaque handle, read from /auth/me).
        const me = await send(url(on + attempt), 'GET', '/auth/me', { token: r.json.accessToken });
        if (typeof me.json?.sessionId !== 'string') throw new Error(`GET /auth/me: ${me.status} ${JSON.stringify(me.json)}`);
        return { access: r.json.accessToken, refresh: r.json.refreshToken, sid: me.json.sessionId };
      }
      if (attempt >= 5 || performance.now() > deadline) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.json)}`);
    }
  };

  // Background load: its own users and sessions, refreshed never (15-minute tokens).
  let stop = false;
  const bgEmail = `bg-${options.tag}@example.com`;
  await send(url(0), 'POST', '/auth/register', { body: { email: bgEmail, password } });
  const bgTokens = await Promise.all(Array.from({ length: Math.max(1, options.background) }, (_, k) => signIn(bgEmail, k)));
  let answered = 0;
  const unexpected: string[] = [];
  const backgroundLoop = async (k: number) => {
    for (let i = 0; !stop && performance.now() < deadline; i++) {
      const r = await send(url(k + i), 'GET', '/auth/me', { token: bgTokens[k]!.access });
      answered += 1;
      if (r.status !== 200 && r.status !== 503 && unexpected.length < 20) unexpected.push(`${r.status} ${JSON.stringify(r.json)}`);
    }
  };
  const background = Promise.all(Array.from({ length: options.background }, (_, k) => backgroundLoop(k)));

  /** Sends each token to every instance; counts and records any acceptance. */
  const checkEnded = async (path: RevocationPath, tokens: readonly string[], answeredAt: number) => {
    const results = await Promise.all(tokens.flatMap((token) => instances.map(async (instance, i) => ({ i, r: await send(instance.url, 'GET', '/auth/me', { token }) }))));
    for (const { i, r } of results) {
      checks += 1;
      if (r.status === 200) accepted.push({ path, instance: i, afterMs: performance.now() - answeredAt });
      else if (r.status !== 401 && r.status !== 503) failures.push(`${path}: check answered ${r.status} ${JSON.stringify(r.json)}`);
    }
  };

  const worker = async (w: number) => {
    const email = `w${w}-${options.tag}@example.com`;
    let current = password;
    const reg = await send(url(w), 'POST', '/auth/register', { body: { email, password } });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.json)}`);
    for (let c = 0; c < options.cycles && performance.now() < deadline; c++) {
      const path = paths[(w + c) % paths.length]!;
      const at = w + c; // the instances rotate: sign-in, refresh and revocation on different ones
      const s = await signIn(email, at);
      const refreshed = await send(url(at + 1), 'POST', '/auth/refresh', { body: { refreshToken: s.refresh } });
      if (refreshed.status !== 200) {
        failures.push(`${path}: refresh ${refreshed.status} ${JSON.stringify(refreshed.json)}`);
        continue;
      }
      const access = refreshed.json.accessToken as string;
      // Both access tokens of the session must be refused once it ends (the first is unexpired).
      const ended = [s.access, access];
      let helper: { access: string } | undefined;
      if (path === 'logout_others' || path === 'session_delete' || path === 'password_change') helper = await signIn(email, at + 2);
      const sent = performance.now();
      let r: Answer;
      let expected = 204;
      switch (path) {
        case 'logout':
          r = await send(url(at + 2), 'POST', '/auth/logout', { token: access });
          break;
        case 'logout_global':
          r = await send(url(at + 2), 'POST', '/auth/logout', { token: access, body: { scope: 'global' } });
          break;
        case 'logout_others':
          r = await send(url(at + 2), 'POST', '/auth/logout', { token: helper!.access, body: { scope: 'others' } });
          break;
        case 'session_delete':
          r = await send(url(at + 2), 'DELETE', `/auth/sessions/${s.sid}`, { token: helper!.access });
          break;
        case 'password_change': {
          const next = current === password ? `${password} b` : password;
          r = await send(url(at + 2), 'POST', '/auth/password', { token: helper!.access, body: { currentPassword: current, newPassword: next } });
          if (r.status === 204) current = next;
          break;
        }
        case 'refresh_reuse':
          // The spent refresh token again: theft detection ends the session (grace is 0 here).
          r = await send(url(at + 2), 'POST', '/auth/refresh', { body: { refreshToken: s.refresh } });
          expected = 401;
          break;
        case 'oauth_revoke':
          r = await send(url(at + 2), 'POST', '/oauth/revoke', { basic: true, form: { token: access } });
          expected = 200;
          break;
      }
      const answeredAt = performance.now();
      if (r.status !== expected) {
        failures.push(`${path}: answered ${r.status} ${JSON.stringify(r.json)}`);
        continue;
      }
      latencies.push(answeredAt - sent);
      if (options.progress) options.progress.revocations += 1;
      revocations[path] += 1;
      await checkEnded(path, ended, answeredAt);
      // Other paths end the helper session too, or leave it; a global logout ends it. Either way
      // it is not reused.
      if (path === 'password_change' && current !== password) {
        // Keep sign-ins working with one password: change it back (ends nothing we check).
        const back = await send(url(at), 'POST', '/auth/password', { token: helper!.access, body: { currentPassword: current, newPassword: password } });
        if (back.status === 204) current = password;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)));
  } finally {
    stop = true;
    await background;
  }
  return { revocations, checks, accepted, latencies, background: { answered, unexpected }, failures };
}

/** The p-th percentile of `xs`, rounded to 0.1 ms. */
export function pct(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
  return Math.round(v * 10) / 10;
}

/**
 * How long revocations waited for their confirmation on the instances (the
 * `tokenstile_revocation_confirm_seconds` histogram summed over them): count, and how many took
 * more than 50 ms and more than 1 s.
 */
export async function confirmTimes(instances: readonly Instance[]): Promise<{ count: number; over50ms: number; over1s: number }> {
  let count = 0;
  let upTo50ms = 0;
  let upTo1s = 0;
  for (const i of instances) {
    const text = await (await fetch(`${i.url}/metrics`)).text();
    for (const m of text.matchAll(/^tokenstile_revocation_confirm_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) {
      if (m[1] === '+Inf') count += Number(m[2]);
      if (m[1] === '0.05') upTo50ms += Number(m[2]);
      if (m[1] === '1') upTo1s += Number(m[2]);
    }
  }
  return { count, over50ms: count - upTo50ms, over1s: count - upTo1s };
}

/** One line summing a result, for the test's diagnostics and the benchmark. */
export function summary(r: WorkloadResult): string {
  const total = Object.values(r.revocations).reduce((a, b) => a + b, 0);
  return `${total} revocations (${Object.entries(r.revocations).map(([k, v]) => `${k} ${v}`).join(', ')}), ${r.checks} checks after the answer, ${r.accepted.length} accepted; revocation latency p50 ${pct(r.latencies, 50)} ms, p99 ${pct(r.latencies, 99)} ms, max ${pct(r.latencies, 100)} ms; ${r.background.answered} background requests`;
}
