import { isIP } from 'node:net';
import { ConfigError } from '../core/errors.ts';

/**
 * Which proxies in front of the server are trusted to report the client's address in
 * `X-Forwarded-For`:
 *
 * - `false` (default): none; the client IP is the peer address.
 * - a hop count `n`: the last `n` hops are our proxies; the client IP is the `n`-th address from the
 *   right (the peer being the first), so entries a client puts in front of the header are ignored.
 * - addresses: the proxies' IPs or CIDRs (and `loopback`, `linklocal`, `uniquelocal`); the client IP
 *   is the right-most address that is not one of them.
 * - `true`: **unsafe** behind a proxy that appends to the header (nearly all do): the left-most
 *   entry, which the client writes itself, is taken. Kept for compatibility; it logs a warning.
 * - a function `(address, hop) => boolean`, as Fastify takes it: your own rule.
 */
export type TrustProxy = boolean | number | string | readonly string[] | TrustProxyFunction;

/** Whether the hop at `address`, `hop` steps from the server (0: the peer), is a trusted proxy. */
export type TrustProxyFunction = (address: string, hop: number) => boolean;

/** What Fastify's `trustProxy` gets: the same setting, checked. */
export type ResolvedTrustProxy = boolean | number | string[] | TrustProxyFunction;

const namedRanges = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** True when `entry` is an IP, an `IP/prefix` or `IP/netmask`, or one of proxy-addr's named ranges. */
function isProxyAddress(entry: string): boolean {
  if (namedRanges.has(entry)) return true;
  const [address = '', range, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(range) === 4;
}

/**
 * Checks a trust-proxy setting at start-up. `name` is how the message names it (the option or the
 * environment variable). A string is a hop count (`"2"`), `true`/`false`, or a comma-separated
 * list of addresses.
 */
export function resolveTrustProxy(value: TrustProxy | undefined, name = 'trustProxy'): ResolvedTrustProxy {
  if (value === undefined || value === false || value === true) return value ?? false;
  if (typeof value === 'function') return value;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a whole number of hops ≥ 0, got ${value}`);
    return value;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === 'true') return true;
    if (text === 'false' || text === '') return false;
    if (/^\d+$/.test(text)) return resolveTrustProxy(Number(text), name);
    return resolveTrustProxy(text.split(','), name);
  }
  if (!Array.isArray(value)) throw new ConfigError(`${name} must be a hop count, proxy addresses, true or false`);
  const entries = (value as readonly unknown[]).map((e) => String(e)).map((e) => e.trim()).filter((e) => e !== '');
  const bad = entries.find((e) => !isProxyAddress(e));
  if (bad !== undefined) {
    throw new ConfigError(`${name}: ${JSON.stringify(bad)} is not an IP address, a CIDR or one of loopback, linklocal, uniquelocal (or give a hop count)`);
  }
  if (entries.length === 0) throw new ConfigError(`${name} lists no proxy address`);
  return entries;
}

/** The start-up warning for `trustProxy: true`, or null when the setting is safe. */
export function trustProxyWarning(value: ResolvedTrustProxy): string | null {
  return value === true
    ? 'tokenstile: trustProxy is true, so the client IP is the left-most X-Forwarded-For entry, which any client can forge; ' +
        'set TOKENSTILE_TRUST_PROXY to the number of proxies in front of the server, or to their addresses'
    : null;
}
