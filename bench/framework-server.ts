// One server process for the framework scenarios. argv[2] is a JSON `FrameworkServerSpec`:
//   express + tokenstile  GET /protected behind `auth.protect()` from tokenstile/node
//   express + stateless   GET /protected behind a minimal jose check (signature and claims, no revocation)
//   <express|hono> + cached  the same route behind Tokenstile's own signature check and verified-token
//                         cache, no revocation (the "ceiling" of the Fastify scenario, in this framework)
//   hono + tokenstile     GET /protected behind `auth.protect()` from tokenstile/fetch (@hono/node-server)
//   hono + stateless      GET /protected behind `hono/jwt` (signature and claims, no revocation)
//   <framework> + auth    the contract's /auth/* routes: Fastify (buildApp), Express (the Node
//                         handler), Hono (the fetch handler)
// Every process also answers `GET /__bench/cpu` with its `process.cpuUsage()` (µs) and how many
// requests it answered outside that endpoint, so the orchestrator measures CPU per request of the
// server alone. Prints one JSON line once listening on a free loopback port: {port, token}.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve, type HttpBindings } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { jwt } from 'hono/jwt';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { AccessTokenVerifier } from '../src/core/access-tokens.ts';
import { systemClock } from '../src/core/clock.ts';
import { Keyring } from '../src/core/keys.ts';
import { createArgon2Hasher } from '../src/core/password.ts';
import { createTokenstile, type Tokenstile } from '../src/core/tokenstile.ts';
import { buildApp } from '../src/http/app.ts';
import { createFetchHandler } from '../src/http/fetch-handler.ts';
import { createNodeHandler } from '../src/http/node-handler.ts';
import { openSqliteStores } from '../src/stores/sqlite/sqlite-stores.ts';

/** What bench/framework-server.ts serves. */
export interface FrameworkServerSpec {
  readonly framework: 'express' | 'hono' | 'fastify';
  readonly mode: 'tokenstile' | 'stateless' | 'cached' | 'auth';
}

const spec = JSON.parse(process.argv[2] ?? '{}') as FrameworkServerSpec;
const issuer = 'http://127.0.0.1';
const credentials = { email: 'bench@example.com', password: 'bench password 1' };
const options = {
  stores: openSqliteStores(':memory:'),
  issuer,
  // Cheap hashing: the login figures compare the adapters, not argon2's cost.
  passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  rateLimits: false as const,
  audit: false,
};
const handlerOptions = { ...options, docs: false, metrics: false, accountPage: false };
const body = { ok: true };

let answered = 0;
/** The control endpoint's answer: CPU used so far and requests answered (the endpoint itself excluded). */
const cpu = () => ({ ...process.cpuUsage(), requests: answered });

/** Signs the bench user up and in; returns a fresh access token. */
async function tokenFrom(core: Tokenstile): Promise<string> {
  await core.register(credentials);
  const login = await core.login(credentials);
  if (!login.ok) throw new Error(login.code);
  return login.value.accessToken;
}

/** Tokenstile's signature and claims check with its verified-token cache, and no revocation lookup. */
async function cachedCheck(core: Tokenstile): Promise<(bearer: string) => boolean> {
  const keyring = new Keyring(await options.stores.keys.listSigningKeys(), core.config.signingAlgorithm, Date.now(), 0);
  const verifier = new AccessTokenVerifier(() => keyring, core.config, systemClock, 10_000);
  return (bearer) => verifier.verify(bearer).ok;
}

let token = '';
let server: Server;
if (spec.framework === 'express') {
  const app = express();
  app.get('/__bench/cpu', (_req, res) => void res.json(cpu()));
  app.use((_req, res, next) => {
    res.once('finish', () => answered++);
    next();
  });
  if (spec.mode === 'stateless') {
    const core = await createTokenstile(options);
    token = await tokenFrom(core);
    const keys = createLocalJWKSet(core.jwks() as Parameters<typeof createLocalJWKSet>[0]);
    app.get('/protected', (req, res, next) => {
      const bearer = (req.headers.authorization ?? '').slice(7);
      jwtVerify(bearer, keys, { issuer, algorithms: ['ES256'] }).then(
        () => next(),
        () => void res.status(401).json({ code: 'invalid_token' }),
      );
    }, (_req, res) => void res.json(body));
  } else if (spec.mode === 'cached') {
    const core = await createTokenstile(options);
    token = await tokenFrom(core);
    const check = await cachedCheck(core);
    app.get('/protected', (req, res) => void (check((req.headers.authorization ?? '').slice(7)) ? res.json(body) : res.status(401).json({ code: 'invalid_token' })));
  } else {
    const auth = await createNodeHandler(handlerOptions);
    token = await tokenFrom(auth.tokenstile);
    if (spec.mode === 'auth') app.use(auth);
    else app.get('/protected', auth.protect(), (_req, res) => void res.json(body));
  }
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
} else if (spec.framework === 'hono') {
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.get('/__bench/cpu', (c) => c.json(cpu()));
  app.use(async (_c, next) => {
    await next();
    answered++;
  });
  if (spec.mode === 'stateless') {
    const core = await createTokenstile(options);
    token = await tokenFrom(core);
    const [key] = core.jwks().keys;
    app.get('/protected', jwt({ secret: key as unknown as Parameters<typeof jwt>[0]["secret"], alg: 'ES256', verification: { iss: issuer, typ: 'at+jwt' } }), (c) => c.json(body));
  } else if (spec.mode === 'cached') {
    const core = await createTokenstile(options);
    token = await tokenFrom(core);
    const check = await cachedCheck(core);
    app.get('/protected', (c) => (check((c.req.header('authorization') ?? '').slice(7)) ? c.json(body) : c.json({ code: 'invalid_token' }, 401)));
  } else {
    const auth = await createFetchHandler(handlerOptions);
    token = await tokenFrom(auth.tokenstile);
    if (spec.mode === 'auth') app.all('*', (c) => auth(c.req.raw, { remoteAddress: c.env.incoming.socket.remoteAddress }));
    else app.get('/protected', auth.protect(), (c) => c.json(body));
  }
  server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
} else {
  if (spec.mode !== 'auth') throw new Error('the Fastify protected route is bench/protected-server.ts');
  const app = buildApp(handlerOptions);
  app.get('/__bench/cpu', async () => cpu());
  app.addHook('onResponse', async (request) => {
    if (request.url !== '/__bench/cpu') answered++;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  token = await tokenFrom(app.tokenstile);
  server = app.server;
}

process.once('SIGTERM', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, token })}\n`);
