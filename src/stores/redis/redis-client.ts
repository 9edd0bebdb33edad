import { createHash } from 'node:crypto';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { ConfigError, TokenstileError } from '../../core/errors.ts';

/** The ioredis client behind every Redis adapter: one server (plain or via Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

/** A connection to Redis shared by the Redis adapters of one instance. */
export interface RedisConnection {
  /** For commands; never put in subscriber mode (use `subscriber()`). */
  readonly client: RedisClient;
  /** True for `redis+cluster://`; the adapters then use sharded pub/sub. */
  readonly isCluster: boolean;
  /** Put before every key and channel name, such as `tokenstile:`. Default: empty. */
  readonly keyPrefix: string;
  /** The URL with its password replaced, for messages and logs. */
  readonly target: string;
  /**
   * A new connection for SUBSCRIBE (a duplicate of `client`) or, on a Cluster, SSUBSCRIBE (a
   * Cluster that keeps one subscriber connection per master). Closed by `close()` unless closed first.
   */
  subscriber(connectionName?: string): RedisClient;
  /** Closes `client` and every subscriber made here. */
  close(): Promise<void>;
}

const importIoredis = () => import('ioredis');
let ioredis: ReturnType<typeof importIoredis> | undefined;

/** ioredis, loaded at the first Redis URL: a server on SQLite or PostgreSQL alone never loads it. */
function loadIoredis(): ReturnType<typeof importIoredis> {
  return (ioredis ??= importIoredis());
}

const forms =
  'redis://[:password@]host:port[/db], rediss://… (TLS), redis+sentinel://[:password@]host:port,host2:port/masterName[/db] or redis+cluster://host:port,host2:port';

/**
 * Connects to Redis and waits until it answers. URL forms: `redis://[:password@]host:port[/db]`,
 * `rediss://…` (TLS), `redis+sentinel://[:password@]host:port,host2:port/masterName[/db]` (the
 * password is the master's; sentinels are reached without one) and `redis+cluster://host:port,…`
 * (seed nodes of a Cluster). Throws `ConfigError` for any other URL, and a `service_unavailable`
 * error when Redis cannot be reached.
 *
 * @example const redis = await connectRedis('redis://127.0.0.1:6379/0', { keyPrefix: 'tokenstile:' });
 */
export async function connectRedis(url: string, options: { keyPrefix?: string; connectionName?: string } = {}): Promise<RedisConnection> {
  const target = redactRedisUrl(url);
  // Everything up to the last `@` is credentials, so an unescaped `/` or `@` in a password still parses.
  const m = /^(redis|rediss|redis\+sentinel|redis\+cluster):\/\/(?:(.*)@)?([^/?#@]+)(?:\/([^?#]*))?$/.exec(url);
  if (!m) throw new ConfigError(`Redis URL must be ${forms}; got ${JSON.stringify(target)}`);
  const [, scheme, auth, hostList, path = ''] = m as unknown as [string, string, string | undefined, string, string | undefined];
  const defaultPort = scheme === 'redis+sentinel' ? 26379 : 6379;
  const hosts = hostList.split(',').map((h) => parseHost(h, defaultPort, target));
  const colon = auth?.indexOf(':') ?? -1;
  const common: RedisOptions = {
    username: auth && colon > 0 ? decode(auth.slice(0, colon)) : undefined,
    password: auth && colon >= 0 ? decode(auth.slice(colon + 1)) : undefined,
    connectionName: options.connectionName ?? 'tokenstile',
    // Fail a command after two reconnection attempts instead of twenty: callers fall back to the store.
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // ioredis waits this long for a socket that is already gone when connecting failed.
    disconnectTimeout: 500,
    lazyConnect: true,
  };
  // Commands fail at once while disconnected, and within a second on a half-open connection, so
  // a logout never waits on Redis: callers fall back (the store, a local limiter, no cache).
  const failFast = { enableOfflineQueue: false, commandTimeout: 1_000 };
  const { Cluster, Redis } = await loadIoredis();
  let client: RedisClient;
  let makeSubscriber: (name: string) => RedisClient;
  if (scheme === 'redis+cluster') {
    if (path !== '') throw new ConfigError(`a Redis Cluster has no databases; remove the path from ${JSON.stringify(target)}`);
    const clusterOptions: ClusterOptions = { redisOptions: common, lazyConnect: true };
    client = new Cluster(hosts, { ...clusterOptions, ...failFast, redisOptions: { ...common, commandTimeout: failFast.commandTimeout } });
    makeSubscriber = (name) => new Cluster(hosts, { ...clusterOptions, redisOptions: { ...common, connectionName: name }, shardedSubscribers: true, lazyConnect: false });
  } else {
    const parts = path === '' ? [] : path.split('/');
    const name = scheme === 'redis+sentinel' ? parts.shift() : undefined;
    if (scheme === 'redis+sentinel' ? !name : hosts.length !== 1) throw new ConfigError(`Redis URL must be ${forms}; got ${JSON.stringify(target)}`);
    const db = parts.length === 0 ? 0 : Number(parts[0]);
    if (parts.length > 1 || !Number.isInteger(db) || db < 0) throw new ConfigError(`Redis database must be a number in ${JSON.stringify(target)}`);
    const where: RedisOptions = scheme === 'redis+sentinel' ? { sentinels: hosts, name } : { ...hosts[0], tls: scheme === 'rediss' ? {} : undefined };
    const redis = new Redis({ ...common, ...where, db, ...failFast });
    client = redis;
    // The subscriber keeps ioredis' offline queue: it resubscribes by itself after a reconnect.
    makeSubscriber = (name) => redis.duplicate({ connectionName: name, lazyConnect: false, enableOfflineQueue: true, commandTimeout: undefined });
  }
  // Errors also reject the command that met them; without a listener ioredis would print them.
  client.on('error', () => {});
  try {
    await ready(client);
  } catch (err) {
    client.disconnect();
    throw new TokenstileError('service_unavailable', `cannot reach Redis at ${target} (redisUrl, TOKENSTILE_REDIS_URL): ${(err as Error).message}`, { cause: err });
  }
  const subscribers = new Set<RedisClient>();
  return {
    client,
    isCluster: scheme === 'redis+cluster',
    keyPrefix: options.keyPrefix ?? '',
    target,
    subscriber(connectionName = `${common.connectionName}:sub`) {
      const sub = makeSubscriber(connectionName);
      sub.on('error', () => {});
      sub.once('end', () => subscribers.delete(sub));
      subscribers.add(sub);
      return sub;
    },
    async close() {
      for (const sub of subscribers) sub.disconnect();
      subscribers.clear();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * Connects, failing at the first error: ioredis would otherwise retry for ever (through
 * Sentinel, `connect()` never rejects), and startup should say at once that Redis is unreachable.
 */
function ready(client: RedisClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => (clearTimeout(timer), client.off('error', fail), reject(err));
    const timer = setTimeout(() => fail(new Error('no answer within 10 s')), 10_000);
    client.once('error', fail);
    client.connect().then(() => (clearTimeout(timer), client.off('error', fail), resolve()), fail);
  });
}

/** Percent-decoded, or as written when it is not valid percent-encoding (a password like `50%off`). */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parseHost(text: string, defaultPort: number, target: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || port < 1 || port > 65535) throw new ConfigError(`bad host:port ${JSON.stringify(text)} in Redis URL ${JSON.stringify(target)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** A Redis URL with its password (and user name) replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  return `${scheme}***${url.slice(at)}`;
}

/**
 * Says whether Redis may evict keys: a warning when `maxmemory-policy` (on every master of a
 * Cluster) is anything but `noeviction` — the `volatile-*` policies included, since every key
 * Tokenstile writes has a TTL — and null when it is safe or cannot be read (CONFIG is often
 * refused on managed Redis).
 */
export async function checkEvictionPolicy(client: RedisClient): Promise<string | null> {
  const { Cluster, ReplyError } = await loadIoredis();
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  const risky: string[] = [];
  for (const server of servers) {
    let reply: unknown;
    try {
      reply = await server.config('GET', 'maxmemory-policy');
    } catch (err) {
      if (err instanceof ReplyError) return null;
      throw err;
    }
    const policy = Array.isArray(reply) ? String(reply[1]) : '';
    if (policy !== '' && policy !== 'noeviction') risky.push(`${policy} on ${server.options.host}:${server.options.port}`);
  }
  if (risky.length === 0) return null;
  return `Redis maxmemory-policy is ${risky.join(', ')}: under memory pressure Redis may evict rate-limit counters (loosening the limits) and session-cache versions (bringing back dropped cache entries); set maxmemory-policy noeviction`;
}

/** Runs a Lua script by its SHA1, loading it on the node that answers NOSCRIPT. */
export async function runScript(client: RedisClient, script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
  const sha = scriptShas.get(script) ?? createHash('sha1').update(script).digest('hex');
  scriptShas.set(script, sha);
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(script, keys.length, ...keys, ...args);
  }
}
const scriptShas = new Map<string, string>();
