import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from './errors.ts';
import type { ClientStore } from './client-store.ts';
import { secureRandom, type RandomSource } from './ids.ts';

/**
 * A resource-server client: what may call `/oauth/introspect`, `/oauth/revoke` and the revocation
 * stream. `secret` is either the secret itself or its SHA-256 as `sha256.<base64url>` (what
 * `tokenstile clients create` prints), so the auth server's environment need not hold the secret.
 */
export interface ClientCredentials {
  readonly id: string;
  readonly secret: string;
}

const idPattern = /^[A-Za-z0-9._~-]{1,64}$/;
const hashedPrefix = 'sha256.';
/** Plain secrets shorter than this are refused: a client secret is a key, not a password. */
export const minClientSecretLength = 16;

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Parses `TOKENSTILE_CLIENTS`: `id:secret,id2:sha256.HASH`. The id is 1-64 characters of
 * `A-Z a-z 0-9 . _ ~ -`; the secret is everything after the first `:` (at least 16 characters, or
 * a `sha256.` hash). Throws `ConfigError` naming the entry (never the secret).
 */
export function parseClients(spec: string, what = 'TOKENSTILE_CLIENTS'): ClientCredentials[] {
  const clients: ClientCredentials[] = [];
  for (const [index, raw] of spec.split(',').entries()) {
    const entry = raw.trim();
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    const id = colon < 0 ? entry : entry.slice(0, colon);
    if (colon < 0 || !idPattern.test(id)) throw new ConfigError(`${what}: entry ${index + 1} must be id:secret with an id of 1-64 letters, digits, ".", "_", "~" or "-"`);
    clients.push({ id, secret: entry.slice(colon + 1) });
  }
  return clients;
}

/** How long the stored clients are cached: a removed client is refused within this, in ms. */
export const clientCacheMs = 10_000;
/** An unknown id re-reads the stored clients at most this often, so a new client works at once. */
const missRefreshMs = 1_000;

/**
 * Checks client credentials in constant time: the configured clients (`TOKENSTILE_CLIENTS`),
 * then those in the store (`tokenstile clients create`), cached for `clientCacheMs`.
 */
export class ClientRegistry {
  readonly #configured = new Map<string, Buffer>();
  readonly #store: ClientStore | undefined;
  readonly #now: () => number;
  #stored: Map<string, Buffer> | null = null;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | null = null;
  readonly #dummy = digest(secureRandom(32).toString('base64url'));

  /** Throws `ConfigError` for a duplicate id, a short plain secret or a malformed hash. */
  constructor(clients: readonly ClientCredentials[], options: { store?: ClientStore; now?: () => number } = {}) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    for (const c of clients) {
      if (!idPattern.test(c.id)) throw new ConfigError(`client id ${JSON.stringify(c.id.slice(0, 64))} must be 1-64 letters, digits, ".", "_", "~" or "-"`);
      if (this.#configured.has(c.id)) throw new ConfigError(`client ${c.id} is configured twice`);
      let d: Buffer;
      if (c.secret.startsWith(hashedPrefix)) {
        d = Buffer.from(c.secret.slice(hashedPrefix.length), 'base64url');
        if (d.length !== 32) throw new ConfigError(`client ${c.id}: a hashed secret is sha256. followed by 43 base64url characters`);
      } else {
        if (c.secret.length < minClientSecretLength) throw new ConfigError(`client ${c.id}: the secret must be at least ${minClientSecretLength} characters (tokenstile clients create makes one)`);
        d = digest(c.secret);
      }
      this.#configured.set(c.id, d);
    }
  }

  /** The configured (not stored) client ids. */
  get configuredIds(): string[] {
    return [...this.#configured.keys()];
  }

  /**
   * True when `secret` is the secret of client `id`. The same work for unknown ids (no timing
   * oracle). Rejects only when the store has never answered and the id is not configured.
   */
  async authenticate(id: string, secret: string): Promise<boolean> {
    let expected = this.#configured.get(id);
    if (expected === undefined && this.#store) {
      const age = this.#now() - this.#loadedAt;
      if (age >= clientCacheMs || (!this.#stored?.has(id) && age >= missRefreshMs)) await this.refresh();
      expected = this.#stored?.get(id);
    }
    const equal = timingSafeEqual(digest(secret), expected ?? this.#dummy);
    return expected !== undefined && equal;
  }

  /**
   * Whether `id` is still a client, from the cache (no I/O): for closing the streams of removed
   * clients. Starts a refresh in the background when the cache is old.
   */
  knows(id: string): boolean {
    if (this.#configured.has(id)) return true;
    if (this.#store && this.#now() - this.#loadedAt >= clientCacheMs) void this.refresh().catch(() => {});
    return this.#stored === null || this.#stored.has(id);
  }

  /** Re-reads the stored clients (one read at a time). A failure keeps the previous cache, if any. */
  refresh(): Promise<void> {
    if (!this.#store) return Promise.resolve();
    this.#loading ??= (async () => {
      try {
        const list = await this.#store!.listClients();
        this.#stored = new Map(list.map((c) => [c.id, Buffer.from(c.secretHash, 'base64url')]));
        this.#loadedAt = this.#now();
      } catch (err) {
        if (this.#stored === null) throw err;
        this.#loadedAt = this.#now() - clientCacheMs + missRefreshMs;
      } finally {
        this.#loading = null;
      }
    })();
    return this.#loading;
  }
}

/** SHA-256 of a client secret, base64url: what the store and a hashed entry keep. */
export function clientSecretHash(secret: string): string {
  return digest(secret).toString('base64url');
}

/** A new client: a random 256-bit secret and the `TOKENSTILE_CLIENTS` entry that holds only its hash. */
export function newClient(id: string, random: RandomSource = secureRandom): { id: string; secret: string; entry: string } {
  if (!idPattern.test(id)) throw new ConfigError(`client id must be 1-64 letters, digits, ".", "_", "~" or "-"`);
  const secret = random(32).toString('base64url');
  return { id, secret, entry: `${id}:${hashedPrefix}${clientSecretHash(secret)}` };
}
