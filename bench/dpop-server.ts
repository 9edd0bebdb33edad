// The server process of the DPoP scenario (bench/scenarios/dpop.ts): Tokenstile's Fastify app
// with one protected route, `GET /protected` behind `app.authenticate`, answering `{"ok":true}`
// to Bearer tokens and to DPoP-bound tokens with their proofs alike. Also answers
// `GET /__bench/cpu` with its `process.cpuUsage()` (µs) and how many requests it answered outside
// that endpoint. Prints one JSON line once listening on a free loopback port: {port}.
import { buildApp } from '../src/http/app.ts';
import { createArgon2Hasher } from '../src/core/password.ts';

/** The issuer the proofs' `htu` names (the server compares it, not the port it listens on). */
export const benchIssuer = 'http://127.0.0.1';

let answered = 0;
const app = buildApp({
  databaseUrl: 'sqlite::memory:',
  issuer: benchIssuer,
  passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  rateLimits: false,
  audit: false,
  docs: false,
  metrics: false,
  accountPage: false,
});
// The plugin registered by buildApp decorates app.authenticate once loaded.
await app.after();
if (typeof app.authenticate !== 'function') throw new Error('app.authenticate is missing');
app.get('/__bench/cpu', async () => ({ ...process.cpuUsage(), requests: answered }));
app.get('/protected', { onRequest: app.authenticate }, async () => ({ ok: true }));
app.addHook('onResponse', async (request) => {
  if (request.url !== '/__bench/cpu') answered++;
});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as { port: number }).port })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
