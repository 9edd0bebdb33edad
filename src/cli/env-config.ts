import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClientRegistry, parseClients } from '../core/clients.ts';
import { resolveConfig, type TokenstileOptions } from '../core/config.ts';
import { ConfigError, TokenstileError } from '../core/errors.ts';
import { parseKeyEncryptionKey } from '../core/key-encryption.ts';
import type { SigningAlgorithm } from '../core/keys.ts';
import type { Stores } from '../core/stores.ts';
import type { BuildAppOptions } from '../http/app.ts';
import { canonicalOrigin } from '../http/browser-options.ts';
import { resolveTrustProxy } from '../http/trust-proxy.ts';
import { resolveRecoveryOptions, type RecoveryOptions } from '../features/recovery/recovery-options.ts';
import { resolveSharedSignals, type SharedSignalsOptions } from '../features/ssf/ssf-options.ts';
import { defaultDatabaseUrl, openStores, redactUrl } from '../stores/open-stores.ts';
import { parseProviders } from '../features/social/provider-options.ts';
import { parseReceivers } from '../features/ssf-receiver/receiver-options.ts';
import { envDefinition, environment, environmentHelp } from './server-options.ts';

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

/** Variable `name`, or its defined default. */
function setting(env: Env, name: string): string | undefined {
  return value(env, name) ?? envDefinition(name).default;
}

/**
 * Reads `HOST`, `PORT` and the `TOKENSTILE_*` variables. Throws `ConfigError` naming the variable
 * on a bad value, and for settings this version does not provide rather than ignoring them.
 */
export function serverConfigFromEnv(env: Env = process.env): ServerConfig {
  const host = setting(env, 'HOST')!;
  const portText = setting(env, 'PORT')!;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be a port number, got ${JSON.stringify(portText)}`);
  const clients = value(env, 'TOKENSTILE_CLIENTS');
  // Checked now, so that a bad entry stops the server before it opens anything.
  if (clients !== undefined) new ClientRegistry(parseClients(clients));
  const app: Record<string, unknown> = {
    issuer: value(env, 'TOKENSTILE_ISSUER') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    audience: setting(env, 'TOKENSTILE_AUDIENCE'),
    signingAlgorithm: oneOf(env, 'TOKENSTILE_SIGNING_ALG') as SigningAlgorithm,
    accessTokenFormat: oneOf(env, 'TOKENSTILE_ACCESS_TOKEN_FORMAT'),
    revocationCheck: oneOf(env, 'TOKENSTILE_REVOCATION_CHECK'),
    dpop: oneOf(env, 'TOKENSTILE_DPOP'),
    dpopNonce: oneOf(env, 'TOKENSTILE_DPOP_NONCE') === 'true',
    trustProxy: resolveTrustProxy(value(env, 'TOKENSTILE_TRUST_PROXY'), 'TOKENSTILE_TRUST_PROXY'),
    redisUrl: value(env, 'TOKENSTILE_REDIS_URL'),
    keyEncryptionKey: value(env, 'TOKENSTILE_KEY_ENCRYPTION_KEY'),
    redisKeyPrefix: setting(env, 'TOKENSTILE_REDIS_PREFIX'),
    rateLimits: parseRateLimitsSwitch(value(env, 'TOKENSTILE_RATE_LIMITS')),
    metrics: setting(env, 'TOKENSTILE_METRICS') !== 'off',
    clients,
    accountPage: parseSwitch(env, 'TOKENSTILE_ACCOUNT_PAGE'),
    cookieSameSite: parseSameSite(value(env, 'TOKENSTILE_COOKIE_SAMESITE')),
    allowedOrigins: parseList(value(env, 'TOKENSTILE_ALLOWED_ORIGINS')),
    oauthProviders: checkedProviders(value(env, 'TOKENSTILE_OAUTH_PROVIDERS')),
    sharedSignalsReceivers: checkedReceivers(value(env, 'TOKENSTILE_SSF_RECEIVERS'), value(env, 'TOKENSTILE_ISSUER') ?? 'http://localhost/'),
  };
  // Durations of the core's own options; a feature's (`recovery.…`) are read with its block.
  for (const d of environment) if (d.type === 'duration' && !d.option!.includes('.')) app[d.option!] = setting(env, d.env!);
  checkCoreSettings(app as unknown as Omit<TokenstileOptions, 'stores'>);
  app.recovery = recoveryFromEnv(env);
  app.sharedSignals = sharedSignalsFromEnv(env);
  return {
    host,
    port,
    databaseUrl: setting(env, 'TOKENSTILE_DATABASE_URL')!,
    logLevel: oneOf(env, 'TOKENSTILE_LOG_LEVEL'),
    app: app as unknown as ServerConfig['app'],
  };
}

/** The `recovery` options (account mail, links, verification, sign-in links), checked now. */
function recoveryFromEnv(env: Env): RecoveryOptions {
  const recovery: RecoveryOptions = {
    smtpUrl: value(env, 'TOKENSTILE_SMTP_URL'),
    mailFrom: value(env, 'TOKENSTILE_MAIL_FROM'),
    appUrl: value(env, 'TOKENSTILE_APP_URL'),
    mailTemplates: value(env, 'TOKENSTILE_MAIL_TEMPLATES'),
    requireVerifiedEmail: oneOf(env, 'TOKENSTILE_REQUIRE_VERIFIED_EMAIL') === 'true',
    magicLink: oneOf(env, 'TOKENSTILE_MAGIC_LINK') === 'on',
    passwordResetTtl: setting(env, 'TOKENSTILE_PASSWORD_RESET_TTL'),
    emailVerificationTtl: setting(env, 'TOKENSTILE_EMAIL_VERIFICATION_TTL'),
  };
  try {
    // The issuer only shapes defaults; a bad one is reported by the core's own check.
    resolveRecoveryOptions(recovery, value(env, 'TOKENSTILE_ISSUER') ?? 'http://localhost/');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const named = err.message.replace(/\b[a-zA-Z]+\b/g, (word) => variableOf[`recovery.${word}`] ?? word);
    throw new ConfigError(named, { cause: err });
  }
  return recovery;
}

/** The `sharedSignals` options (the Shared Signals transmitter), checked now. */
function sharedSignalsFromEnv(env: Env): SharedSignalsOptions {
  const options: SharedSignalsOptions = {
    enabled: oneOf(env, 'TOKENSTILE_SSF') === 'true',
    defaultSubjects: oneOf(env, 'TOKENSTILE_SSF_DEFAULT_SUBJECTS') as 'ALL' | 'NONE',
    setLifetime: setting(env, 'TOKENSTILE_SSF_SET_LIFETIME'),
    allowInsecureEndpoints: oneOf(env, 'TOKENSTILE_SSF_ALLOW_INSECURE_ENDPOINTS') === 'true',
  };
  try {
    resolveSharedSignals(options);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(err.message.replace(/sharedSignals\.[a-zA-Z]+/g, (name) => variableOf[name] ?? name), { cause: err });
  }
  return options;
}

/** The file of a `sqlite:PATH` URL; null for `sqlite::memory:` and other databases. */
function sqliteFileOf(url: string): string | null {
  if (!url.startsWith('sqlite:')) return null;
  const path = url.slice('sqlite:'.length);
  return path === '' || path === ':memory:' ? null : path;
}

/** The variable behind each option, for the messages `resolveConfig` phrases in option names. */
const variableOf: Readonly<Record<string, string>> = Object.fromEntries(
  environment.filter((d) => d.option !== undefined && d.env !== undefined).map((d) => [d.option, d.env]),
);

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

/** `TOKENSTILE_OAUTH_PROVIDERS`, checked now (the social feature checks it again when it opens). */
function checkedProviders(v: string | undefined): string | undefined {
  try {
    parseProviders(v);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^oauthProviders/, 'TOKENSTILE_OAUTH_PROVIDERS'), { cause: err });
    throw err;
  }
  return v;
}

/** `TOKENSTILE_SSF_RECEIVERS`, checked now (the receiver feature checks it again when it opens). */
function checkedReceivers(v: string | undefined, issuer: string): string | undefined {
  try {
    parseReceivers(v, issuer);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^sharedSignalsReceivers/, 'TOKENSTILE_SSF_RECEIVERS'), { cause: err });
    throw err;
  }
  return v;
}

/** Choice variable `name`: its value or default, one of its defined values. */
function oneOf(env: Env, name: string): string {
  const { values = [] } = envDefinition(name);
  const v = setting(env, name)!;
  if (!values.includes(v)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

function parseRateLimitsSwitch(v: string | undefined): false | undefined {
  if (v === undefined || v === 'on') return undefined;
  if (v === 'off') return false;
  throw new ConfigError(`TOKENSTILE_RATE_LIMITS must be on or off, got ${JSON.stringify(v)}`);
}

function parseSwitch(env: Env, name: string): boolean {
  const v = setting(env, name)!;
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

/** Names the variables, for `--help` (made from their definitions, `environment`). */
export const envHelp = environmentHelp();
