// Sign-in with a second factor against sign-in without: the server's CPU time per request of the
// password step (argon2id at its production cost, plus the mfa_required gate), of the TOTP step
// (POST /auth/mfa/verify: the attempt counted first, the code check, two single-use updates and a
// new session), and of a plain password login, through the Fastify app in this process (inject,
// no sockets). CPU is `process.cpuUsage()`, which counts libuv's hashing threads too. Requests run one at a time.
import { ManualClock } from '../../src/core/clock.ts';
import { totpCode } from '../../test/features/mfa/totp-code.ts';
import { buildApp } from '../../src/http/app.ts';

/** µs of CPU per request (medians over the rounds). */
export interface MfaLoginResult {
  readonly plainLogin: number;
  readonly passwordStep: number;
  readonly totpStep: number;
  readonly logins: number;
}

const password = 'bench password 1';
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function mfaLogin(opts: { logins: number; rounds: number }): Promise<MfaLoginResult> {
  // A manual clock moved one TOTP step per sign-in: each code is fresh (a code is accepted once).
  const clock = new ManualClock(Date.now());
  const app = buildApp({ issuer: 'http://127.0.0.1', databaseUrl: 'sqlite::memory:', rateLimits: false, docs: false, accountPage: false, clock });
  await app.ready();
  try {
    const json = (method: 'POST', url: string, payload: object, token?: string) =>
      app.inject({ method, url, payload, headers: token ? { authorization: `Bearer ${token}` } : {} });
    for (const email of ['plain@example.com', 'mfa@example.com']) await json('POST', '/auth/register', { email, password });
    const first = (await json('POST', '/auth/login', { email: 'mfa@example.com', password })).json();
    const { secret } = (await json('POST', '/auth/mfa/totp/setup', {}, first.accessToken)).json();
    const confirmed = await json('POST', '/auth/mfa/totp/confirm', { code: totpCode(secret, clock.now()) }, first.accessToken);
    if (confirmed.statusCode !== 200) throw new Error(`TOTP set-up failed: ${confirmed.body}`);
    const samples = { plainLogin: [] as number[], passwordStep: [] as number[], totpStep: [] as number[] };
    for (let round = 0; round < opts.rounds; round++) {
      let plain = 0;
      let pwd = 0;
      let otp = 0;
      for (let i = 0; i < opts.logins; i++) {
        clock.advance(30_000);
        let t = cpuMicros();
        const a = await json('POST', '/auth/login', { email: 'plain@example.com', password });
        plain += cpuMicros() - t;
        if (a.statusCode !== 200) throw new Error(`login: ${a.statusCode}`);
        t = cpuMicros();
        const b = await json('POST', '/auth/login', { email: 'mfa@example.com', password });
        pwd += cpuMicros() - t;
        if (b.statusCode !== 403) throw new Error(`password step: ${b.statusCode}`);
        const code = totpCode(secret, clock.now());
        t = cpuMicros();
        const c = await json('POST', '/auth/mfa/verify', { mfaToken: b.json().mfaToken, method: 'totp', code });
        otp += cpuMicros() - t;
        if (c.statusCode !== 200) throw new Error(`TOTP step: ${c.statusCode} ${c.body}`);
      }
      samples.plainLogin.push(plain / opts.logins);
      samples.passwordStep.push(pwd / opts.logins);
      samples.totpStep.push(otp / opts.logins);
    }
    return { plainLogin: median(samples.plainLogin), passwordStep: median(samples.passwordStep), totpStep: median(samples.totpStep), logins: opts.logins };
  } finally {
    await app.close();
  }
}

/** The BENCHMARKS.md section of a run. */
export function mfaLoginSection(r: MfaLoginResult | string, opts: { logins: number; rounds: number }): string {
  const body =
    typeof r === 'string'
      ? r
      : `| sign-in | CPU/request | vs password login |
|---|---|---|
| password only (\`POST /auth/login\` → 200) | ${(r.plainLogin / 1000).toFixed(2)} ms | 1.00× |
| with TOTP, password step (\`/auth/login\` → 403 \`mfa_required\`) | ${(r.passwordStep / 1000).toFixed(2)} ms | ${(r.passwordStep / r.plainLogin).toFixed(2)}× |
| with TOTP, second step (\`/auth/mfa/verify\` → 200) | ${(r.totpStep / 1000).toFixed(2)} ms | ${(r.totpStep / r.plainLogin).toFixed(2)}× |
| with TOTP, both steps | ${((r.passwordStep + r.totpStep) / 1000).toFixed(2)} ms | ${((r.passwordStep + r.totpStep) / r.plainLogin).toFixed(2)}× |`;
  return `## Sign-in with a second factor
Server CPU per request (\`process.cpuUsage()\`, hashing threads included), Fastify app in-process on
SQLite in memory, argon2id at its default cost; ${opts.logins} sign-ins of each kind per round, one at
a time, median of ${opts.rounds} round${opts.rounds === 1 ? '' : 's'}. The TOTP step counts the attempt before the check (per
mfaToken and per user, given back when right), checks the code, records its time step and spends
the mfaToken (two single-use updates), and starts the session.

${body}`;
}
