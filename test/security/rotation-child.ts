// Child process of concurrency.test.ts ("process killed mid-rotation"): opens the SQLite file given
// as argv[2], logs a new user in, then rotates the session's refresh token in a tight loop (each
// round several refreshes in parallel with the same token) until the parent SIGKILLs it. Every
// committed rotation it learns of is printed as one JSON line on stdout (synchronous on a pipe).
import { createTokenstile } from '../../src/core/tokenstile.ts';
import { createArgon2Hasher } from '../../src/core/password.ts';
import { openSqliteStores } from '../../src/stores/sqlite/sqlite-stores.ts';

const [path, issuer] = process.argv.slice(2);
if (!path || !issuer) throw new Error('usage: rotation-child.ts DB_PATH ISSUER');

const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const stores = openSqliteStores(path);
const core = await createTokenstile({
  stores,
  issuer,
  passwordHasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  rateLimits: false,
});
const email = `crash-${process.pid}@example.com`;
const password = 'correct horse 42';
const registered = await core.register({ email, password });
if (!registered.ok) throw new Error(`register: ${registered.code}`);
const login = await core.login({ email, password });
if (!login.ok) throw new Error(`login: ${login.code}`);
print({ event: 'login', sessionId: login.value.session.id, generation: 0, refreshTokens: [login.value.refreshToken] });

let current = login.value.refreshToken;
for (let generation = 1; ; generation += 1) {
  const parallel = 1 + (generation % 4);
  const results = await Promise.all(Array.from({ length: parallel }, () => core.refresh(current)));
  const failed = results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.code));
  if (failed.length > 0) {
    print({ event: 'error', generation, codes: failed });
    process.exit(1);
  }
  const tokens = [...new Set(results.map((r) => (r.ok ? r.value.refreshToken : '')))];
  print({ event: 'rotated', generation, refreshTokens: tokens });
  current = tokens[0]!;
}
