// From a logout to a Shared Signals receiver holding its session-revoked SET: `node bench/ssf-latency.ts
// [--quick] [--postgres]`. One app in this process (Fastify, listening on loopback, real clock), on
// SQLite (a file) or on PostgreSQL + Redis (`--postgres`), with two receivers: a push receiver
// (node:http, RFC 8935) and a long-polling receiver (fetch, RFC 8936, acknowledging as it goes).
// Each logout is an HTTP request; the time runs from just before it is sent until each receiver has
// the SET of that session. Logouts run one at a time. Prints a Markdown table; writes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createArgon2Hasher } from '../src/core/password.ts';
import { buildApp } from '../src/http/app.ts';
import { cleanUp } from '../test/scale/harness.ts';

const quick = process.argv.includes('--quick');
const onPostgres = process.argv.includes('--postgres');
const logouts = quick ? 20 : 200;
const receiver = { id: 'bench-receiver', secret: 'bench-receiver-secret-0123456789' };
const basic = `Basic ${Buffer.from(`${receiver.id}:${receiver.secret}`).toString('base64')}`;
const sessionOf = (set: string) => JSON.parse(Buffer.from(set.split('.')[1]!, 'base64url').toString('utf8')).sub_id?.session?.id as string | undefined;

const dir = mkdtempSync(join(tmpdir(), 'tokenstile-ssf-bench-'));
const schema = `ts_ssf_bench_${randomBytes(4).toString('hex')}`;
const pgUrl = process.env.TOKENSTILE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const storage = onPostgres
  ? { databaseUrl: `${pgUrl}?schema=${schema}`, redisUrl: process.env.TOKENSTILE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', redisKeyPrefix: `${schema}:` }
  : { databaseUrl: `sqlite:${join(dir, 'bench.db')}` };
const app = buildApp({
  issuer: 'http://127.0.0.1',
  ...storage,
  clients: `${receiver.id}:${receiver.secret}`,
  sharedSignals: { enabled: true },
  passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  rateLimits: false,
  docs: false,
  accountPage: false,
});
const base = await app.listen({ host: '127.0.0.1', port: 0 });

// Arrival times by session id, and who is waiting for one.
const arrived = { push: new Map<string, number>(), poll: new Map<string, number>() };
const waiting = new Map<string, () => void>();
const note = (kind: 'push' | 'poll', set: string) => {
  const id = sessionOf(set);
  if (id === undefined) return;
  arrived[kind].set(id, performance.now());
  waiting.get(`${kind}:${id}`)?.();
};
const push = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    note('push', Buffer.concat(chunks).toString('utf8'));
    res.writeHead(202).end();
  });
});
await new Promise<void>((r) => push.listen(0, '127.0.0.1', r));
const call = async (method: string, path: string, body?: object, auth = basic) => {
  const res = await fetch(`${base}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (res.status === 204 ? null : await res.json()) as any };
};
await call('POST', '/ssf/streams', { delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `http://127.0.0.1:${(push.address() as AddressInfo).port}/` } });
const polled = await call('POST', '/ssf/streams', { delivery: { method: 'urn:ietf:rfc:8936' } });
const pollPath = `/ssf/poll/${polled.json.stream_id}`;

let polling = true;
const poller = (async () => {
  let ack: string[] = [];
  while (polling) {
    const { json } = await call('POST', pollPath, { ack, returnImmediately: false });
    ack = Object.keys(json.sets);
    for (const set of Object.values(json.sets as Record<string, string>)) note('poll', set);
  }
})();

const until = (kind: 'push' | 'poll', id: string) =>
  arrived[kind].has(id) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(`${kind}:${id}`, resolve));

const samples = { push: [] as number[], poll: [] as number[], answered: [] as number[] };
for (let i = 0; i < logouts; i++) {
  const email = `bench-${i}-${randomBytes(3).toString('hex')}@example.com`;
  await call('POST', '/auth/register', { email, password: 'bench password 1' });
  const login = await call('POST', '/auth/login', { email, password: 'bench password 1' });
  const { accessToken, session } = login.json as { accessToken: string; session: { id: string } };
  const t0 = performance.now();
  const out = await call('POST', '/auth/logout', {}, `Bearer ${accessToken}`);
  if (out.status !== 204) throw new Error(`logout answered ${out.status}`);
  samples.answered.push(performance.now() - t0);
  await Promise.all([until('push', session.id), until('poll', session.id)]);
  samples.push.push(arrived.push.get(session.id)! - t0);
  samples.poll.push(arrived.poll.get(session.id)! - t0);
}

polling = false;
// One last event ends the long poll.
const last = await call('POST', '/auth/register', { email: `bench-end-${randomBytes(3).toString('hex')}@example.com`, password: 'bench password 1' });
void last;
await Promise.race([poller, new Promise((r) => setTimeout(r, 100))]);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const row = (name: string, xs: number[]) => `| ${name} | ${xs.length} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 95).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`;
process.stdout.write(
  [
    `### Logout to a Shared Signals receiver holding the session-revoked SET (${onPostgres ? 'PostgreSQL + Redis' : 'SQLite'}, one instance, loopback)`,
    '',
    '| measured | logouts | p50 ms | p95 ms | max ms |',
    '| --- | --: | --: | --: | --: |',
    row('the logout\'s own answer (SET already stored)', samples.answered),
    row('push (RFC 8935)', samples.push),
    row('long poll (RFC 8936)', samples.poll),
    '',
  ].join('\n'),
);
await app.close();
push.close();
rmSync(dir, { recursive: true, force: true });
if (onPostgres) await cleanUp(schema, `${schema}:`);
process.exit(0);
