import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { createArgon2Hasher } from '../src/core/password.ts';
import { buildApp, type BuildAppOptions } from '../src/http/app.ts';

export const issuer = 'http://127.0.0.1:3000';

/** argon2id with tiny parameters: the same code path, a fraction of the time. */
export const fastHasher = createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'tokenstile-test-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestApp {
  app: FastifyInstance;
  clock: ManualClock;
  /** Registers and logs in a user; returns the token response. */
  signUp(email?: string, password?: string, headers?: Record<string, string>): Promise<TokenBody>;
  close(): Promise<void>;
}

export interface TokenBody {
  tokenType: 'Bearer';
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
  session: { id: string };
  user: { id: string; email: string; name: string | null };
}

let counter = 0;

/** A unique email for this process. */
export function uniqueEmail(): string {
  counter += 1;
  return `user${process.pid}-${counter}-${Date.now()}@example.com`;
}

export const goodPassword = 'correct horse 42';

/**
 * Builds the app on an in-memory SQLite database with a manual clock (real time by default).
 * Rate limits are off (the suites sign up hundreds of users from one IP); their own tests turn
 * them on.
 */
export async function testApp(options: Partial<BuildAppOptions> = {}): Promise<TestApp> {
  const clock = new ManualClock(Date.now());
  const app = buildApp({
    issuer,
    databaseUrl: 'sqlite::memory:',
    passwordHasher: fastHasher,
    clock,
    docs: false,
    rateLimits: false,
    ...options,
  });
  await app.ready();
  return {
    app,
    clock,
    async signUp(email = uniqueEmail(), password = goodPassword, headers = {}) {
      const reg = await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } });
      if (reg.statusCode !== 201) throw new Error(`register failed: ${reg.statusCode} ${reg.body}`);
      const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, headers });
      if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
      return login.json() as TokenBody;
    },
    close: () => app.close(),
  };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Asserts nothing; returns the parsed problem body after checking the media type. */
export function problemOf(res: LightMyRequestResponse): { code: string; status: number; detail: string; type: string; title: string } {
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${type}: ${res.body}`);
  return res.json();
}

/**
 * Two app instances on one SQLite file (as two servers on one database), `b`'s clock `skewMs`
 * ahead of `a`'s, with a long poll interval so only an explicit `syncRevocations()` delivers
 * revocations. Both are closed and the file removed afterwards.
 */
export async function withTwoInstances(skewMs: number, fn: (a: TestApp, b: TestApp) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const options = { databaseUrl: `sqlite:${dir.path}/t.db`, revocationPollInterval: '1h' };
  const a = await testApp(options);
  try {
    const b = await testApp(options);
    try {
      b.clock.set(a.clock.now() + skewMs);
      await fn(a, b);
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
    dir.cleanup();
  }
}
