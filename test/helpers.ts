import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { inject, type InjectOptions } from 'light-my-request';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { createArgon2Hasher } from '../src/core/password.ts';
import { buildApp, type BuildAppOptions } from '../src/http/app.ts';
import { createFetchHandler, type FetchHandler } from '../src/http/fetch-handler.ts';
import { createNodeHandler } from '../src/http/node-handler.ts';
import type { Tokenstile } from '../src/core/tokenstile.ts';
import pg from 'pg';
import { pino } from 'pino';
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

/**
 * Which adapter `testApp` serves the routes with, chosen by `TOKENSTILE_TEST_ADAPTER`: `fastify`
 * (default: `buildApp`), `node` (`createNodeHandler`) or `fetch` (`createFetchHandler`, behind a
 * small Node bridge). `npm test` runs the behaviour suites once per adapter; every adapter is
 * driven the same way, through light-my-request's `inject`.
 */
export const appAdapter = process.env.TOKENSTILE_TEST_ADAPTER ?? 'fastify';
if (!['fastify', 'node', 'fetch'].includes(appAdapter)) throw new Error(`TOKENSTILE_TEST_ADAPTER: unknown ${appAdapter}`);

/** Why a test of the Fastify adapter's own API does not apply (a reason printed with the skip), or false. */
export const fastifyOnly: string | false = appAdapter === 'fastify' ? false : `uses the Fastify API (routes of its own, plugins); this run serves the routes with the ${appAdapter} adapter`;

/** What the suites use of a server, whatever the adapter: inject requests, reach the core, close. */
export interface TestServer {
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse>;
  /** Listens on a port (as Fastify's `listen`); answers the base URL. */
  listen(options: { host: string; port: number }): Promise<string>;
  readonly tokenstile: Tokenstile;
  close(): Promise<void>;
}

export interface TestApp {
  app: TestServer;
  clock: ManualClock;
  /** Registers and logs in a user; returns the token response. */
  signUp(email?: string, password?: string, headers?: Record<string, string>): Promise<TokenBody>;
  close(): Promise<void>;
}

export interface TokenBody {
  tokenType: 'Bearer' | 'DPoP';
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
  const settings = {
    issuer,
    passwordHasher: fastHasher,
    clock,
    docs: false,
    rateLimits: false,
    ...modeOptions[appMode],
    ...backend?.options,
    ...options,
  } satisfies BuildAppOptions;
  let app: TestServer;
  try {
    app = await serve(settings, setup);
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

/** The server of the selected adapter. */
async function serve(settings: BuildAppOptions, setup?: (app: FastifyInstance) => void): Promise<TestServer> {
  if (appAdapter === 'fastify') {
    const app = buildApp(settings);
    setup?.(app);
    await app.ready();
    return app;
  }
  if (setup !== undefined) throw new Error(`testApp: a setup function needs the Fastify adapter; skip with fastifyOnly`);
  // Fastify's logger option, as the same pino logger Fastify would make of it.
  const { logger: fastifyLogger, ...rest } = settings;
  const options = typeof fastifyLogger === 'object' && fastifyLogger !== null && 'stream' in fastifyLogger ? { ...rest, logger: pino({ level: fastifyLogger.level ?? 'info' }, fastifyLogger.stream) } : rest;
  const handler = appAdapter === 'node' ? await createNodeHandler(options) : fetchBridge(await createFetchHandler(options));
  let server: Server | null = null;
  return {
    inject: (opts) => inject(handler, opts) as Promise<LightMyRequestResponse>,
    async listen({ host, port }) {
      server = createServer(handler);
      await new Promise<void>((resolve) => server!.listen(port, host, resolve));
      return `http://${host}:${(server.address() as AddressInfo).port}`;
    },
    tokenstile: handler.tokenstile,
    async close() {
      // The handler first, so that its revocation streams end and the server can close.
      await handler.close();
      if (server !== null) await new Promise((resolve) => server!.close(resolve));
    },
  };
}

/** A fetch handler behind a Node `(req, res)` function, so that the same `inject` drives it. */
export function fetchBridge(handler: FetchHandler): ((req: IncomingMessage, res: ServerResponse) => void) & Pick<FetchHandler, 'tokenstile' | 'close'> {
  const bridge = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const method = req.method ?? 'GET';
      const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(chunks);
      // What a fetch runtime's own HTTP parser would refuse (control characters in a value, a bad
      // Host) never reaches a fetch handler: such values are left out here.
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        for (const v of [value ?? []].flat()) {
          try {
            headers.append(name, v);
          } catch {
            // not representable in a Request
          }
        }
      }
      const host = URL.canParse(`http://${req.headers.host}/`) ? req.headers.host : 'localhost';
      const request = new Request(`http://${host}${req.url}`, { method, headers, body, duplex: 'half' } as RequestInit);
      const response = await handler(request, { remoteAddress: req.socket.remoteAddress ?? null });
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((value, name) => {
        if (name !== 'set-cookie') out[name] = value;
      });
      const cookies = response.headers.getSetCookie();
      if (cookies.length > 0) out['set-cookie'] = cookies;
      res.writeHead(response.status, out);
      if (response.body !== null) {
        const reader = response.body.getReader();
        for (let read = await reader.read(); !read.done; read = await reader.read()) res.write(read.value);
      }
      res.end();
    })().catch((err: unknown) => res.destroy(err as Error));
  };
  return Object.assign(bridge, { tokenstile: handler.tokenstile, close: () => handler.close() });
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
