import { BlockList, isIP } from 'node:net';
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

/** proxy-addr's named ranges, as subnets. */
const namedSubnets: Readonly<Record<string, ReadonlyArray<readonly [string, number]>>> = {
  loopback: [['127.0.0.1', 8], ['::1', 128]],
  linklocal: [['169.254.0.0', 16], ['fe80::', 10]],
  uniquelocal: [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['fc00::', 7]],
};

/** The prefix length of an IPv4 netmask such as `255.255.0.0`. */
function maskBits(mask: string): number {
  return mask.split('.').reduce((bits, part) => bits + Number(part).toString(2).replace(/0/g, '').length, 0);
}

/** The checked setting as one rule, `(address, hop) => trusted`, for adapters without Fastify's. */
export function trustFunction(value: ResolvedTrustProxy): TrustProxyFunction {
  if (typeof value === 'function') return value;
  if (typeof value === 'boolean') return () => value;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  const list = new BlockList();
  const entries = typeof value === 'string' ? [value] : value;
  for (const entry of entries) {
    for (const [address, bits] of namedSubnets[entry] ?? []) list.addSubnet(address, bits, isIP(address) === 6 ? 'ipv6' : 'ipv4');
    if (entry in namedSubnets) continue;
    const [address = '', range] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (range === undefined) list.addAddress(address, family);
    else list.addSubnet(address, /^\d+$/.test(range) ? Number(range) : maskBits(range), family);
  }
  return (address) => {
    // An IPv4 peer on a dual-stack socket is reported as ::ffff:a.b.c.d.
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/** Where a request came from and was sent to, after the trust-proxy rules (as Fastify reads them). */
export interface RequestOrigin {
  readonly ip: string | null;
  readonly protocol: 'http' | 'https';
  readonly host: string;
}

/**
 * The client IP, protocol and host of a request: `X-Forwarded-For` is walked from the right while
 * each hop is a trusted proxy; `X-Forwarded-Proto` and `X-Forwarded-Host` count only when the peer
 * itself is trusted.
 */
export function requestOrigin(
  trust: TrustProxyFunction,
  peer: string | null,
  encrypted: boolean,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): RequestOrigin {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const peerTrusted = peer !== null && trust(peer, 0);
  let ip = peer;
  if (peerTrusted) {
    const forwarded = (one('x-forwarded-for') ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '').reverse();
    for (let hop = 0; hop < forwarded.length; hop++) {
      ip = forwarded[hop]!;
      if (!trust(ip, hop + 1)) break;
    }
  }
  const proto = peerTrusted ? one('x-forwarded-proto')?.split(',')[0]?.trim() : undefined;
  const protocol = proto === 'https' || (proto === undefined && encrypted) ? 'https' : 'http';
  const host = (peerTrusted ? one('x-forwarded-host')?.split(',')[0]?.trim() : undefined) ?? one('host') ?? '';
  return { ip, protocol, host };
}
