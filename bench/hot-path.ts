// The protected-request hot path in-process, without HTTP or a load generator sharing the CPU:
// the same token checked by the bare verifier (signature + claims) and by Tokenstile's
// authenticate (the same + the revocation list), alternating in rounds. Prints a Markdown table.
//   node bench/hot-path.ts
import { AccessTokenVerifier } from '../src/core/access-tokens.ts';
import { systemClock } from '../src/core/clock.ts';
import { uuidv7 } from '../src/core/ids.ts';
import { Keyring } from '../src/core/keys.ts';
import { createTokenstile } from '../src/core/tokenstile.ts';
import { openSqliteStores } from '../src/stores/sqlite/sqlite-stores.ts';

const rows: string[] = [];
for (const cache of [10_000, 0]) {
  const stores = openSqliteStores(':memory:');
  const core = await createTokenstile({ stores, issuer: 'http://127.0.0.1', verifiedTokenCacheSize: cache });
  await core.register({ email: 'bench@example.com', password: 'bench password 1' });
  const login = await core.login({ email: 'bench@example.com', password: 'bench password 1' });
  if (!login.ok) throw new Error(login.code);
  const user = (await stores.users.byId(login.value.user.id))!;
  const now = Date.now();
  for (let i = 0; i < 100_000; i++) {
    const id = uuidv7(now - i);
    await stores.sessions.create({ id, userId: user.id, createdAt: now, lastUsedAt: now, expiresAt: now + 3_600_000, accessExpiresAt: now + 900_000, revokedAt: null, userAgent: null, ip: null, generation: 0, refreshHash: 'b', previousHash: null, rotatedAt: null, graceBox: null, accessHash: null, amr: ['pwd'], authTime: now }, user.credentialStamp);
  }
  await core.revoke({ userId: user.id, exceptSessionId: login.value.session.id });
  const keyring = new Keyring(await stores.keys.listSigningKeys(), 'ES256', now, 0);
  const verifier = new AccessTokenVerifier(() => keyring, core.config, systemClock, cache);
  const token = login.value.accessToken;
  const n = cache > 0 ? 2_000_000 : 40_000;
  // Timed in chunks with the event loop let run in between (untimed): the core trusts its list
  // only while its store polls keep completing, and a loop that never yields would starve them
  // (every check would then go to the store, as on an instance that cannot reach its database).
  const chunk = 50_000;
  const time = async (fn: () => unknown) => {
    let ns = 0n;
    for (let done = 0; done < n; done += chunk) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < Math.min(chunk, n - done); i++) fn();
      ns += process.hrtime.bigint() - t;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return Number(ns) / n;
  };
  await time(() => verifier.verify(token)); // warm-up: JIT and OpenSSL's first calls
  await time(() => core.authenticate(token));
  if (core.authenticate(token) instanceof Promise) throw new Error('the core is checking the store per request: its leases lapsed');
  const bare: number[] = [];
  const full: number[] = [];
  for (let round = 0; round < 7; round++) {
    bare.push(await time(() => verifier.verify(token)));
    full.push(await time(() => core.authenticate(token)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[3]!;
  const b = median(bare);
  const f = median(full);
  rows.push(`| ${cache > 0 ? 'cache on' : 'cache off'} | ${core.revocationCount.toLocaleString('en-US')} | ${b.toFixed(0)} ns | ${f.toFixed(0)} ns | ${(f - b).toFixed(0)} ns | ${(b / f).toFixed(3)}× |`);
  await core.close();
  await stores.close();
}
process.stdout.write(`| verified-token cache | live revocations | signature + claims | + revocation check (Tokenstile) | difference | throughput ratio |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`);
