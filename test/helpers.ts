import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { createArgon2Hasher } from '../src/core/password.ts';
import { buildApp, type BuildAppOptions } from '../src/http/app.ts';
import pg from 'pg';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

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
 * Where `testApp` keeps its data, chosen by `TOKENSTILE_TEST_APP_BACKEND`:
 * `sqlite` (default, in memory), `postgres` (a fresh schema), or `postgres+redis` (a fresh schema
 * and Redis key prefix: feed, rate limits and cache on Redis). `npm test` runs the behaviour
 * suites once more with `postgres+redis`.
 */
export const appBackend = process.env.TOKENSTILE_TEST_APP_BACKEND ?? 'sqlite';
const testPostgresUrl = process.env.TOKENSTILE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const testRedisUrl = process.env.TOKENSTILE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * How `testApp` checks access tokens, chosen by `TOKENSTILE_TEST_APP_MODE`: `pushed` (default: JWTs
 * and the in-memory revocation list), `strict` (JWTs and a store read per request) or `opaque`
 * (reference handles). `npm test` runs the behaviour suites once per mode.
 */
export const appMode = process.env.TOKENSTILE_TEST_APP_MODE ?? 'pushed';
const modeOptions: Record<string, Partial<BuildAppOptions>> = {
  pushed: {},
  strict: { revocationCheck: 'strict' },
  opaque: { accessTokenFormat: 'opaque' },
};
if (!(appMode in modeOptions)) throw new Error(`TOKENSTILE_TEST_APP_MODE: unknown ${appMode}`);

/** Why a test of JWT specifics does not apply in opaque mode (a reason printed with the skip), or false. */
export const jwtOnly: string | false = appMode === 'opaque' ? 'checks JWT specifics; access tokens are opaque handles in this run' : false;

/** Options that put an app on the selected backend, and how to remove what it left behind. */
export interface TestBackend {
  readonly options: Partial<BuildAppOptions>;
  cleanup(): Promise<void>;
}

/** A fresh place for one app's (or several apps' shared) data on the selected backend. */
export function testBackend(sqliteUrl = 'sqlite::memory:'): TestBackend {
  if (appBackend === 'sqlite') return { options: { databaseUrl: sqliteUrl }, cleanup: async () => {} };
  if (appBackend !== 'postgres' && appBackend !== 'postgres+redis') throw new Error(`TOKENSTILE_TEST_APP_BACKEND: unknown ${appBackend}`);
  const name = `ts_app_${process.pid}_${randomBytes(4).toString('hex')}`;
  const withRedis = appBackend === 'postgres+redis';
  return {
    options: { databaseUrl: `${testPostgresUrl}?schema=${name}`, ...(withRedis && { redisUrl: testRedisUrl, redisKeyPrefix: `${name}:` }) },
    async cleanup() {
      const client = new pg.Client({ connectionString: testPostgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).finally(() => client.end());
      if (!withRedis) return;
      const redis = new Redis(testRedisUrl);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${name}:*`, 'COUNT', 500);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}

/**
 * Builds the app with a manual clock (real time by default) on the selected backend (see
 * `appBackend`), unless `options` names a database. Rate limits are off (the suites sign up
 * hundreds of users from one IP); their own tests turn them on. `setup` may add routes before the
 * app is ready.
 */
export async function testApp(options: Partial<BuildAppOptions> = {}, setup?: (app: FastifyInstance) => void): Promise<TestApp> {
  const clock = new ManualClock(Date.now());
  const backend = options.databaseUrl === undefined && options.stores === undefined ? testBackend() : null;
  const app = buildApp({
    issuer,
    passwordHasher: fastHasher,
    clock,
    docs: false,
    rateLimits: false,
    ...modeOptions[appMode],
    ...backend?.options,
    ...options,
  });
  try {
    setup?.(app);
    await app.ready();
  } catch (err) {
    await backend?.cleanup();
    throw err;
  }
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
    async close() {
      await app.close();
      await backend?.cleanup();
    },
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
  const shared = testBackend(`sqlite:${dir.path}/t.db`);
  const options = { ...shared.options, revocationPollInterval: '1h' };
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
    await shared.cleanup();
    dir.cleanup();
  }
}
