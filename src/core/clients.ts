import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from './errors.ts';
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

/** Checks client credentials in constant time; built once from the configured clients. */
export class ClientRegistry {
  readonly #digests = new Map<string, Buffer>();
  readonly #dummy = digest(secureRandom(32).toString('base64url'));

  /** Throws `ConfigError` for a duplicate id, a short plain secret or a malformed hash. */
  constructor(clients: readonly ClientCredentials[]) {
    for (const c of clients) {
      if (!idPattern.test(c.id)) throw new ConfigError(`client id ${JSON.stringify(c.id.slice(0, 64))} must be 1-64 letters, digits, ".", "_", "~" or "-"`);
      if (this.#digests.has(c.id)) throw new ConfigError(`client ${c.id} is configured twice`);
      let d: Buffer;
      if (c.secret.startsWith(hashedPrefix)) {
        d = Buffer.from(c.secret.slice(hashedPrefix.length), 'base64url');
        if (d.length !== 32) throw new ConfigError(`client ${c.id}: a hashed secret is sha256. followed by 43 base64url characters`);
      } else {
        if (c.secret.length < minClientSecretLength) throw new ConfigError(`client ${c.id}: the secret must be at least ${minClientSecretLength} characters (tokenstile clients create makes one)`);
        d = digest(c.secret);
      }
      this.#digests.set(c.id, d);
    }
  }

  /** The configured client ids. */
  get ids(): string[] {
    return [...this.#digests.keys()];
  }

  get size(): number {
    return this.#digests.size;
  }

  /** True when `secret` is the secret of client `id`. Same work for unknown ids (no timing oracle). */
  authenticate(id: string, secret: string): boolean {
    const expected = this.#digests.get(id);
    const equal = timingSafeEqual(digest(secret), expected ?? this.#dummy);
    return expected !== undefined && equal;
  }
}

/** A new client: a random 256-bit secret and the `TOKENSTILE_CLIENTS` entry that holds only its hash. */
export function newClient(id: string, random: RandomSource = secureRandom): { id: string; secret: string; entry: string } {
  if (!idPattern.test(id)) throw new ConfigError(`client id must be 1-64 letters, digits, ".", "_", "~" or "-"`);
  const secret = random(32).toString('base64url');
  return { id, secret, entry: `${id}:${hashedPrefix}${digest(secret).toString('base64url')}` };
}
