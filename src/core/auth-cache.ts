import type { Duration, Logger } from './config.ts';
import { parseDuration } from './duration.ts';
import type { CacheScope, SessionCache } from './session-cache.ts';

/** Default lifetime of a cached entry: the bound on staleness should a drop ever be lost. */
export const cacheTtlMs = 60_000;

/**
 * The longest an entry may live. After a failed drop an instance bypasses the cache this long,
 * until every entry written before the failure has expired.
 */
export const maxCacheTtlMs = 600_000;

/** Where an app's cached entry lives, and for how long. */
export interface CacheEntryOptions {
  /**
   * `session` (default): this session only; dropped when it is refreshed or ends (any logout,
   * revoke, password change elsewhere, reuse detection). `user`: shared by every session of the
   * user; dropped by a password change, a profile update, a global logout or a disable.
   */
  readonly scope?: 'session' | 'user';
  /** How long the entry may be served. Default `60s`; at most `10m`. */
  readonly ttl?: Duration;
}

/** What the cache view needs from the core. */
export interface CacheHost {
  /** The shared cache (or a bypass while drops cannot be trusted). */
  readonly cache: SessionCache;
  /** Drops a scope everywhere; on failure the cache is bypassed until its entries expire. */
  dropCache(userId: string, sessionId?: string): Promise<void>;
  readonly logger: Logger | undefined;
}

/**
 * Reads `key` from the cache, or else from `load` and caches what it returns (`undefined` is
 * returned but not cached). The scope's version is taken before `load` reads the source, so a
 * drop in between makes the write unreadable: a slow reader cannot bring back dropped data. Any
 * cache error counts as a miss (the source answers) or a skipped write.
 */
export async function readThrough<T>(
  cache: SessionCache,
  scope: CacheScope,
  key: string,
  ttlMs: number,
  load: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const hit = await cache.get(scope, key).catch(() => null);
  if (hit !== null) {
    const value = parseEntry(hit);
    if (value !== undefined) return value as T;
  }
  // Taken after the miss (a hit needs no version) but before the source is read.
  const version = await cache.version(scope).catch(() => null);
  const value = await load();
  if (value !== undefined && version !== null) await cache.set(scope, version, key, JSON.stringify(value), ttlMs).catch(() => {});
  return value;
}

function parseEntry(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
    throw new TypeError('cache key must be a string of 1 to 200 characters');
  }
  // A namespace of its own: the app cannot read or overwrite Tokenstile's entries.
  return `app:${key}`;
}

function ttlOf(options: CacheEntryOptions | undefined): number {
  if (options?.ttl === undefined) return cacheTtlMs;
  const ms = parseDuration(options.ttl, 'ttl') * 1000;
  if (!(ms > 0) || ms > maxCacheTtlMs) throw new RangeError(`ttl must be more than 0s and at most ${maxCacheTtlMs / 1000}s`);
  return ms;
}

/**
 * A cache for your routes' data, scoped to the caller's user and session: `request.auth.cache`.
 * Tokenstile drops it on refresh, logout, password change and profile update, on every instance
 * when Redis-backed, so it never serves a revoked session's data or a profile older than the
 * last update through the API. It fails closed: a cache error reads as a miss.
 *
 * @example
 * ```ts
 * app.get('/cart', { onRequest: app.authenticate }, async (request) =>
 *   request.auth!.cache.load('cart', () => db.cartOf(request.auth!.userId)));
 * ```
 */
export class AuthCache {
  readonly #host: CacheHost;
  readonly #userId: string;
  readonly #sessionId: string;
  // The version of each scope as first seen by this request, before it read any source: a write
  // lands under it, so a drop after that first look makes the write unreadable.
  #versions: { session?: Promise<string | null>; user?: Promise<string | null> } = {};

  constructor(host: CacheHost, userId: string, sessionId: string) {
    this.#host = host;
    this.#userId = userId;
    this.#sessionId = sessionId;
  }

  #scope(options: CacheEntryOptions | undefined): { name: 'session' | 'user'; scope: CacheScope } {
    const name = options?.scope ?? 'session';
    if (name !== 'session' && name !== 'user') throw new TypeError("cache scope must be 'session' or 'user'");
    return { name, scope: name === 'user' ? { userId: this.#userId } : { userId: this.#userId, sessionId: this.#sessionId } };
  }

  #version(name: 'session' | 'user', scope: CacheScope): Promise<string | null> {
    return (this.#versions[name] ??= this.#host.cache.version(scope).catch(() => null));
  }

  /**
   * The cached value, or `undefined` on a miss or a cache error. Call it before reading the
   * source of a value you will `set`, or use `load`, which does both in the right order.
   */
  async get<T = unknown>(key: string, options?: CacheEntryOptions): Promise<T | undefined> {
    const k = checkKey(key);
    const { name, scope } = this.#scope(options);
    const [text] = await Promise.all([this.#host.cache.get(scope, k).catch(() => null), this.#version(name, scope)]);
    return text === null ? undefined : (parseEntry(text) as T | undefined);
  }

  /**
   * Caches a JSON-serialisable value under the scope's version as this request first saw it.
   * A drop since then (a logout, a refresh) makes the write unreadable. Errors are swallowed.
   */
  async set(key: string, value: unknown, options?: CacheEntryOptions): Promise<void> {
    const k = checkKey(key);
    if (value === undefined) throw new TypeError('cache value must not be undefined');
    const text = JSON.stringify(value);
    const ttl = ttlOf(options);
    const { name, scope } = this.#scope(options);
    const version = await this.#version(name, scope);
    if (version === null) return;
    await this.#host.cache.set(scope, version, k, text, ttl).catch((err: unknown) => {
      this.#host.logger?.warn({ err: { message: (err as Error).message } }, 'tokenstile: cache write failed');
    });
  }

  /** The cached value, or else what `loader` returns, cached (unless `undefined`). */
  async load<T>(key: string, loader: () => T | Promise<T>, options?: CacheEntryOptions): Promise<T> {
    const k = checkKey(key);
    const ttl = ttlOf(options);
    const { scope } = this.#scope(options);
    return (await readThrough(this.#host.cache, scope, k, ttl, async () => await loader())) as T;
  }

  /** Drops every entry of the scope, on every instance. */
  async drop(options?: Pick<CacheEntryOptions, 'scope'>): Promise<void> {
    const { name } = this.#scope(options);
    delete this.#versions[name];
    await this.#host.dropCache(this.#userId, name === 'session' ? this.#sessionId : undefined);
  }
}
