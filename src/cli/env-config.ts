import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClientRegistry, parseClients } from '../core/clients.ts';
import { resolveConfig, type TokenstileOptions } from '../core/config.ts';
import { ConfigError, TokenstileError } from '../core/errors.ts';
import { parseKeyEncryptionKey } from '../core/key-encryption.ts';
import { signingAlgorithms, type SigningAlgorithm } from '../core/keys.ts';
import type { Stores } from '../core/stores.ts';
import type { BuildAppOptions } from '../http/app.ts';
import { canonicalOrigin } from '../http/browser-options.ts';
import { resolveTrustProxy } from '../http/trust-proxy.ts';
import { defaultDatabaseUrl, openStores, redactUrl } from '../stores/open-stores.ts';

/** The server's settings as read from the environment (see CONTRACT.md). */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly logLevel: string;
  readonly app: Omit<BuildAppOptions, 'stores' | 'logger'>;
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Reads `HOST`, `PORT` and the `TOKENSTILE_*` variables. Throws `ConfigError` naming the variable
 * on a bad value, and for settings this version does not provide rather than ignoring them.
 */
export function serverConfigFromEnv(env: Env = process.env): ServerConfig {
  const host = value(env, 'HOST') ?? '127.0.0.1';
  const portText = value(env, 'PORT') ?? '3000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be a port number, got ${JSON.stringify(portText)}`);
  const alg = value(env, 'TOKENSTILE_SIGNING_ALG') ?? 'ES256';
  if (!(signingAlgorithms as readonly string[]).includes(alg)) {
    throw new ConfigError(`TOKENSTILE_SIGNING_ALG must be one of ${signingAlgorithms.join(', ')}, got ${JSON.stringify(alg)}`);
  }
  const clients = value(env, 'TOKENSTILE_CLIENTS');
  // Checked now, so that a bad entry stops the server before it opens anything.
  if (clients !== undefined) new ClientRegistry(parseClients(clients));
  const durations = {
    accessTokenTtl: ['TOKENSTILE_ACCESS_TTL', '15m'],
    refreshTokenTtl: ['TOKENSTILE_REFRESH_TTL', '7d'],
    sessionMaxLifetime: ['TOKENSTILE_SESSION_MAX_LIFETIME', '30d'],
    clockTolerance: ['TOKENSTILE_CLOCK_TOLERANCE', '5s'],
    refreshGrace: ['TOKENSTILE_REFRESH_GRACE', '10s'],
    revocationLease: ['TOKENSTILE_REVOCATION_LEASE', '1.5s'],
  } as const;
  const app: Record<string, unknown> = {
    issuer: value(env, 'TOKENSTILE_ISSUER') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    audience: value(env, 'TOKENSTILE_AUDIENCE') ?? 'tokenstile',
    signingAlgorithm: alg as SigningAlgorithm,
    accessTokenFormat: oneOf(env, 'TOKENSTILE_ACCESS_TOKEN_FORMAT', ['jwt', 'opaque']),
    revocationCheck: oneOf(env, 'TOKENSTILE_REVOCATION_CHECK', ['pushed', 'strict']),
    trustProxy: resolveTrustProxy(value(env, 'TOKENSTILE_TRUST_PROXY'), 'TOKENSTILE_TRUST_PROXY'),
    redisUrl: value(env, 'TOKENSTILE_REDIS_URL'),
    keyEncryptionKey: value(env, 'TOKENSTILE_KEY_ENCRYPTION_KEY'),
    redisKeyPrefix: value(env, 'TOKENSTILE_REDIS_PREFIX'),
    rateLimits: parseRateLimitsSwitch(value(env, 'TOKENSTILE_RATE_LIMITS')),
    metrics: value(env, 'TOKENSTILE_METRICS') !== 'off',
    clients,
    accountPage: parseSwitch(env, 'TOKENSTILE_ACCOUNT_PAGE'),
    cookieSameSite: parseSameSite(value(env, 'TOKENSTILE_COOKIE_SAMESITE')),
    allowedOrigins: parseList(value(env, 'TOKENSTILE_ALLOWED_ORIGINS')),
  };
  for (const [field, [name, fallback]] of Object.entries(durations)) app[field] = value(env, name) ?? fallback;
  checkCoreSettings(app as unknown as Omit<TokenstileOptions, 'stores'>);
  return {
    host,
    port,
    databaseUrl: value(env, 'TOKENSTILE_DATABASE_URL') ?? defaultDatabaseUrl,
    logLevel: oneOf(env, 'TOKENSTILE_LOG_LEVEL', logLevels, 'info'),
    app: app as unknown as ServerConfig['app'],
  };
}

/** The file of a `sqlite:PATH` URL; null for `sqlite::memory:` and other databases. */
function sqliteFileOf(url: string): string | null {
  if (!url.startsWith('sqlite:')) return null;
  const path = url.slice('sqlite:'.length);
  return path === '' || path === ':memory:' ? null : path;
}

/** pino's levels, which Fastify's logger takes. */
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The variable behind each core option whose message `resolveConfig` phrases in option names. */
const variableOf: Readonly<Record<string, string>> = {
  issuer: 'TOKENSTILE_ISSUER',
  audience: 'TOKENSTILE_AUDIENCE',
  accessTokenTtl: 'TOKENSTILE_ACCESS_TTL',
  refreshTokenTtl: 'TOKENSTILE_REFRESH_TTL',
  sessionMaxLifetime: 'TOKENSTILE_SESSION_MAX_LIFETIME',
  clockTolerance: 'TOKENSTILE_CLOCK_TOLERANCE',
  refreshGrace: 'TOKENSTILE_REFRESH_GRACE',
  revocationLease: 'TOKENSTILE_REVOCATION_LEASE',
  keyEncryptionKey: 'TOKENSTILE_KEY_ENCRYPTION_KEY',
};

/**
 * Runs the core's own checks now, so that a bad value stops the server before it opens anything,
 * and says them in the variables' names (`TOKENSTILE_ACCESS_TTL must be between 1s and 86400s,
 * got "2d"`) rather than the options' that the environment never mentions. The key-encryption
 * key's value is never repeated.
 */
function checkCoreSettings(options: Omit<TokenstileOptions, 'stores'>): void {
  try {
    resolveConfig(options);
    if (options.keyEncryptionKey !== undefined) parseKeyEncryptionKey(options.keyEncryptionKey);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Option names outside the quoted values become variable names; the values stay as given.
    const named = err.message.replace(/"(?:[^"\\]|\\.)*"|\b[a-zA-Z]+\b/g, (word) => variableOf[word] ?? word);
    throw new ConfigError(named, { cause: err });
  }
}

/**
 * Opens the stores of `TOKENSTILE_DATABASE_URL` and checks that they answer. A failure names the
 * variable and the URL (password hidden): a `ConfigError` for a bad URL or a missing SQLite
 * folder, `service_unavailable` for a database that cannot be reached or refuses the connection.
 */
export async function openConfiguredStores(
  config: Pick<ServerConfig, 'databaseUrl'>,
  options: { migrate?: boolean; warn?: (message: string) => void } = {},
): Promise<Stores> {
  const where = `TOKENSTILE_DATABASE_URL=${redactUrl(config.databaseUrl)}`;
  const file = sqliteFileOf(config.databaseUrl);
  // Expected on a first start with the default; elsewhere it may be a typo, so it is said.
  const isNew = file !== null && config.databaseUrl !== defaultDatabaseUrl && !existsSync(file);
  let stores: Stores | undefined;
  try {
    stores = await openStores(config.databaseUrl, { migrate: options.migrate });
    await stores.ping();
    if (isNew) options.warn?.(`created a new, empty SQLite database at ${resolve(file)} (${where}); if you meant an existing one, check the path`);
    return stores;
  } catch (err) {
    await stores?.close().catch(() => {});
    if (err instanceof ConfigError) throw new ConfigError(`${where}: ${err.message}`, { cause: err });
    const reason = err instanceof TokenstileError && err.cause instanceof Error ? err.cause.message : (err as Error)?.message;
    throw new TokenstileError('service_unavailable', `cannot open the database ${where}: ${reason ?? String(err)}`, { cause: err });
  }
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T = allowed[0]!): T {
  const v = value(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function parseRateLimitsSwitch(v: string | undefined): false | undefined {
  if (v === undefined || v === 'on') return undefined;
  if (v === 'off') return false;
  throw new ConfigError(`TOKENSTILE_RATE_LIMITS must be on or off, got ${JSON.stringify(v)}`);
}

function parseSwitch(env: Env, name: string): boolean {
  const v = value(env, name) ?? 'on';
  if (v !== 'on' && v !== 'off') throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(v)}`);
  return v === 'on';
}

function parseSameSite(v: string | undefined): 'lax' | 'strict' | undefined {
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (lower !== 'lax' && lower !== 'strict') throw new ConfigError(`TOKENSTILE_COOKIE_SAMESITE must be lax or strict, got ${JSON.stringify(v)}`);
  return lower;
}

/** A comma-separated list of origins, each checked here so that the message names the variable. */
function parseList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((o) => o.trim()).filter((o) => o !== '').map((o) => canonicalOrigin(o, 'TOKENSTILE_ALLOWED_ORIGINS'));
}

/** Names the variables, for `--help`. */
export const envHelp = `Environment:
  HOST                          listen address (default 127.0.0.1)
  PORT                          listen port (default 3000)
  TOKENSTILE_DATABASE_URL       sqlite:PATH, sqlite::memory: or postgres://… (default ${defaultDatabaseUrl})
  TOKENSTILE_ISSUER             iss of every token (default http://HOST:PORT)
  TOKENSTILE_AUDIENCE           aud of access tokens (default tokenstile)
  TOKENSTILE_ACCESS_TTL         access-token lifetime (default 15m)
  TOKENSTILE_REFRESH_TTL        session lifetime, renewed by each refresh (default 7d)
  TOKENSTILE_SESSION_MAX_LIFETIME absolute session lifetime from sign-in, never renewed (default 30d)
  TOKENSTILE_SIGNING_ALG        ES256 | EdDSA | RS256 (default ES256)
  TOKENSTILE_CLOCK_TOLERANCE    leeway for exp/nbf/iat (default 5s)
  TOKENSTILE_REFRESH_GRACE      retry window for a just-spent refresh token (default 10s)
  TOKENSTILE_ACCESS_TOKEN_FORMAT jwt | opaque: signed JWTs, or reference handles (default jwt)
  TOKENSTILE_REVOCATION_CHECK   pushed | strict: in-memory list, or a store read per request (default pushed)
  TOKENSTILE_REDIS_URL          redis://, rediss://, redis+sentinel://, redis+cluster:// (default unset:
                                one instance, everything in the database and this process)
  TOKENSTILE_REDIS_PREFIX       prefix of Redis keys and channels (default tokenstile:)
  TOKENSTILE_REVOCATION_LEASE   how long an instance trusts its revocation list without fresh contact
                                with Redis and the database; bounds a logout when an instance hangs (default 1.5s)
  TOKENSTILE_KEY_ENCRYPTION_KEY 32 random bytes, base64url: seals private keys and secrets in the database
  TOKENSTILE_CLIENTS            resource-server clients for /oauth/* and /revocations/stream:
                                id:secret or id:sha256.HASH, comma-separated (tokenstile clients create)
  TOKENSTILE_RATE_LIMITS        on | off (default on)
  TOKENSTILE_METRICS            on | off: Prometheus metrics at /metrics (default on)
  TOKENSTILE_TRUST_PROXY        proxies trusted for X-Forwarded-For: a hop count, or their addresses/CIDRs,
                                comma-separated (default false; true takes the forgeable left-most entry)
  TOKENSTILE_COOKIE_SAMESITE    lax | strict: SameSite of the browser access cookie (default lax)
  TOKENSTILE_ALLOWED_ORIGINS    origins whose pages may use the cookie transport and CORS, comma-separated
                                (default: the issuer's origin; a request's own origin always may)
  TOKENSTILE_ACCOUNT_PAGE       on | off: the account page at /account (default on)
  TOKENSTILE_LOG_LEVEL          fatal | error | warn | info | debug | trace | silent (default info)`;
