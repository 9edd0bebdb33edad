import type { CacheScope, SessionCache } from '../../core/session-cache.ts';
import { runScript } from './redis-client.ts';
import type { RedisConnection } from './redis-client.ts';

/*
 * Compare-and-set: the value is written only if the scope's versions are still the ones the caller
 * read, so a write that raced a drop is not stored at all. It then stretches the TTL of each
 * existing version key to outlive the value: a version key must never expire (and restart from 0,
 * then count up again) while an entry written under one of its versions can still be read.
 * KEYS: user version, value, [session version]. ARGV: expected version, value, ttl.
 */
const setScript = `
local current = redis.call('GET', KEYS[1]) or '0'
if KEYS[3] then current = current .. '.' .. (redis.call('GET', KEYS[3]) or '0') end
if current ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
for _, k in ipairs({KEYS[1], KEYS[3]}) do
  local left = redis.call('PTTL', k)
  if left ~= -2 and left < ttl then redis.call('PEXPIRE', k, ttl) end
end
return 1
`;

/* Moves a version on and keeps it for at least ARGV[1] ms (never shortening a longer TTL). */
const dropScript = `
redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
`;

/**
 * The session cache shared by every instance through Redis, with versioned drops (see
 * `SessionCache`). Keys, all under the user's hash tag so a Cluster keeps a user in one slot:
 *
 * - `<prefix>cache:{u:<userId>}:v` and `<prefix>cache:{u:<userId>}:s:<sessionId>:v`: the versions
 *   (absent means 0), moved on by INCR;
 * - `<prefix>cache:{u:<userId>}:<version>:<sessionId or ->:<key>`: the values, with their TTL.
 *
 * A session scope's version is `<user version>.<session version>`. Values live at most
 * `maxTtlMs` (longer TTLs are shortened to it), and a version key lives at least that long after
 * its last drop. Every method rejects when Redis fails; callers treat that as a miss.
 */
export class RedisSessionCache implements SessionCache {
  readonly kind = 'redis';
  readonly #redis: RedisConnection;
  readonly #maxTtlMs: number;

  /** `maxTtlMs`: the longest a value is kept, in ms. Default 86 400 000 (one day). */
  constructor(redis: RedisConnection, options: { maxTtlMs?: number } = {}) {
    this.#redis = redis;
    this.#maxTtlMs = options.maxTtlMs ?? 86_400_000;
  }

  #base(userId: string): string {
    return `${this.#redis.keyPrefix}cache:{u:${userId}}:`;
  }

  #versionKeys(scope: CacheScope): string[] {
    const base = this.#base(scope.userId);
    return scope.sessionId === undefined ? [`${base}v`] : [`${base}v`, `${base}s:${scope.sessionId}:v`];
  }

  #valueKey(scope: CacheScope, version: string, key: string): string {
    return `${this.#base(scope.userId)}${version}:${scope.sessionId ?? '-'}:${key}`;
  }

  async version(scope: CacheScope): Promise<string> {
    const versions = await this.#redis.client.mget(...this.#versionKeys(scope));
    return versions.map((v) => v ?? '0').join('.');
  }

  async get(scope: CacheScope, key: string): Promise<string | null> {
    // Two reads: if a drop lands between them, this get simply happened before the drop.
    return this.#redis.client.get(this.#valueKey(scope, await this.version(scope), key));
  }

  async set(scope: CacheScope, version: string, key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = Math.min(Math.ceil(ttlMs), this.#maxTtlMs);
    if (!(ttl > 0)) return;
    const [userKey, sessionKey] = this.#versionKeys(scope) as [string, string | undefined];
    const keys = [userKey, this.#valueKey(scope, version, key), ...(sessionKey === undefined ? [] : [sessionKey])];
    await runScript(this.#redis.client, setScript, keys, [version, value, ttl]);
  }

  async dropUser(userId: string): Promise<void> {
    await this.#drop(this.#versionKeys({ userId })[0]!);
  }

  async dropSession(userId: string, sessionId: string): Promise<void> {
    await this.#drop(this.#versionKeys({ userId, sessionId })[1]!);
  }

  async #drop(versionKey: string): Promise<void> {
    await runScript(this.#redis.client, dropScript, [versionKey], [this.#maxTtlMs]);
  }

  /** Does nothing: the connection belongs to whoever opened it. */
  async close(): Promise<void> {}
}
