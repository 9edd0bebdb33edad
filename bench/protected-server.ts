// One server process for bench/protected-route.ts. argv: MODE REVOKED CACHE
//   tokenstile  the protected route behind app.authenticate: signature, claims, revocation list
//   ceiling     the same Fastify route doing only the signature and claims check (no revocation)
//   bare        the same route with no authentication at all
// CACHE is the verified-token cache size (0: every request pays the ECDSA check).
// Prints one JSON line {port, token, revocations} once listening on a free loopback port.
import Fastify from 'fastify';
import { AccessTokenVerifier } from '../src/core/access-tokens.ts';
import { systemClock } from '../src/core/clock.ts';
import { uuidv7 } from '../src/core/ids.ts';
import { Keyring } from '../src/core/keys.ts';
import { createTokenstile } from '../src/core/tokenstile.ts';
import { tokenstile } from '../src/http/plugin.ts';
import { openSqliteStores } from '../src/stores/sqlite/sqlite-stores.ts';

const [mode = 'tokenstile', revokedText = '0', cacheText = '10000'] = process.argv.slice(2);
const verifiedTokenCacheSize = Number(cacheText);
const stores = openSqliteStores(':memory:');
const core = await createTokenstile({ stores, issuer: 'http://127.0.0.1', verifiedTokenCacheSize });
await core.register({ email: 'bench@example.com', password: 'bench password 1' });
const login = await core.login({ email: 'bench@example.com', password: 'bench password 1' });
if (!login.ok) throw new Error(login.code);

// Other sessions ended through the real path (store transaction, then the in-memory list), as on
// a server where many people have logged out in the last 15 minutes.
const now = Date.now();
const { passwordHash } = (await stores.users.byId(login.value.user.id))!;
for (let i = 0; i < Number(revokedText); i++) {
  const id = uuidv7(now - i);
  await stores.sessions.create({
    id, userId: login.value.user.id, createdAt: now - i, lastUsedAt: now, expiresAt: now + 3_600_000, accessExpiresAt: now + 900_000,
    revokedAt: null, userAgent: null, ip: null, generation: 0, refreshHash: 'bench', previousHash: null, rotatedAt: null, graceBox: null, accessHash: null,
  }, passwordHash);
  await core.revoke({ sessionId: id });
}

const app = Fastify({ logger: false });
const body = { ok: true };
if (mode === 'tokenstile') {
  await app.register(tokenstile, { tokenstile: core, routes: false });
  app.get('/protected', { onRequest: app.authenticate }, async () => body);
} else if (mode === 'ceiling') {
  const keyring = new Keyring(await stores.keys.listSigningKeys(), core.config.signingAlgorithm, now, 0);
  const verifier = new AccessTokenVerifier(() => keyring, core.config, systemClock, verifiedTokenCacheSize);
  app.get('/protected', async (request, reply) => {
    const r = verifier.verify((request.headers.authorization ?? '').slice(7));
    return r.ok ? body : reply.code(401).send({ code: r.code });
  });
} else if (mode === 'bare') {
  app.get('/protected', async () => body);
} else {
  throw new Error(`unknown mode ${mode}`);
}

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ port, token: login.value.accessToken, revocations: core.revocationCount })}\n`);
