// One server process for the protected-route scenarios. argv[2] is a JSON `ProtectedServerSpec`:
//   tokenstile  the route behind app.authenticate: signature, claims, in-memory revocation list
//   ceiling     the same Fastify route doing only the signature and claims check (no revocation)
//   bare        the same route with no authentication at all (the framework floor)
//   redis       the ceiling's check plus one Redis GET per request (the classic denylist)
//   strict      Tokenstile with revocationCheck 'strict' (TOKENSTILE_REVOCATION_CHECK=strict)
//   opaque      Tokenstile with accessTokenFormat 'opaque' (TOKENSTILE_ACCESS_TOKEN_FORMAT=opaque)
// Prints one JSON line once listening on a free loopback port: {port, token, revocations,
// sessions}, or {unavailable: why} when this build refuses the mode (then exits 0).
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { AccessTokenVerifier } from '../src/core/access-tokens.ts';
import { systemClock } from '../src/core/clock.ts';
import { Keyring } from '../src/core/keys.ts';
import { createArgon2Hasher } from '../src/core/password.ts';
import { createTokenstile, type Tokenstile } from '../src/core/tokenstile.ts';
import { serverConfigFromEnv } from '../src/cli/env-config.ts';
import { tokenstile } from '../src/http/plugin.ts';
import { openSqliteStores } from '../src/stores/sqlite/sqlite-stores.ts';
import { seedSqlite } from './lib/seed.ts';
import { modeGate, type ProtectedServerSpec } from './lib/modes.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as ProtectedServerSpec;
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const gate = modeGate(spec.mode, serverConfigFromEnv);
if (!gate.ok) {
  say({ unavailable: gate.reason });
  process.exit(0);
}

const stores = openSqliteStores(spec.database ?? ':memory:');
const options = {
  stores,
  issuer: 'http://127.0.0.1',
  verifiedTokenCacheSize: spec.cache,
  passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  rateLimits: false as const,
  audit: false,
  ...gate.options,
};
let core: Tokenstile = await createTokenstile(options);
await core.register({ email: 'bench@example.com', password: 'bench password 1' });
const login = await core.login({ email: 'bench@example.com', password: 'bench password 1' });
if (!login.ok) throw new Error(login.code);
const userId = login.value.user.id;

if ((spec.seed?.sessions ?? 0) > 0 && spec.database) {
  // Bulk rows, then a fresh core, which loads every live revocation at start as a restart would.
  seedSqlite(spec.database, userId, { sessions: spec.seed!.sessions, revocations: spec.seed!.revocations });
  await core.close();
  core = await createTokenstile(options);
}
const check = gate.check(core.config as unknown as Record<string, unknown>, login.value.accessToken);
if (check !== null) {
  say({ unavailable: check });
  process.exit(0);
}

let redis: Redis | null = null;
const app = Fastify({ logger: false });
const body = { ok: true };
if (spec.mode === 'bare') {
  app.get('/protected', async () => body);
} else if (spec.mode === 'ceiling' || spec.mode === 'redis') {
  const keyring = new Keyring(await stores.keys.listSigningKeys(), core.config.signingAlgorithm, Date.now(), 0);
  const verifier = new AccessTokenVerifier(() => keyring, core.config, systemClock, spec.cache);
  if (spec.mode === 'ceiling') {
    app.get('/protected', async (request, reply) => {
      const r = verifier.verify((request.headers.authorization ?? '').slice(7));
      return r.ok ? body : reply.code(401).send({ code: r.code });
    });
  } else {
    // The classic design: a denylist in Redis, asked on every request (one GET on one connection).
    redis = new Redis(spec.redisUrl ?? 'redis://127.0.0.1:6379', { keyPrefix: spec.redisPrefix ?? 'tsbench:' });
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.set(`revoked:other-${i}`, '1', 'EX', 3600);
    await pipeline.exec();
    app.get('/protected', async (request, reply) => {
      const r = verifier.verify((request.headers.authorization ?? '').slice(7));
      if (!r.ok) return reply.code(401).send({ code: r.code });
      if ((await redis!.get(`revoked:${r.value.sid}`)) !== null) return reply.code(401).send({ code: 'session_revoked' });
      return body;
    });
  }
} else {
  await app.register(tokenstile, { tokenstile: core, routes: false });
  app.get('/protected', { onRequest: app.authenticate }, async () => body);
}

process.once('SIGTERM', () => {
  // Leave no keys behind in the shared Redis (the orchestrator also sweeps the prefix).
  const keys = Array.from({ length: 1000 }, (_, i) => `revoked:other-${i}`);
  const done = redis ? redis.del(...keys).finally(() => redis!.disconnect()) : Promise.resolve();
  done.finally(() => process.exit(0));
});

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
say({ port, token: login.value.accessToken, revocations: core.revocationCount, sessions: (spec.seed?.sessions ?? 0) + 1 });
