import { coreOptions, recoveryOptionDefinitions, sharedSignalsOptionDefinitions, socialOptions, ssfReceiverOptions, type OptionDefinition } from '../core/option-definitions.ts';
import { defaultDatabaseUrl } from '../stores/open-stores.ts';

/**
 * Every environment variable the server and the CLI read, in the order `--help` and
 * docs/configuration.md list them: the server's own settings, and the core options that have a
 * variable (defined in `coreOptions`). Parsing, help and the docs table all come from here.
 */
export const environment: readonly OptionDefinition[] = [
  {
    env: 'HOST',
    type: 'text',
    default: '127.0.0.1',
    help: ['listen address'],
    doc: 'listen address',
  },
  {
    env: 'PORT',
    type: 'text',
    default: '3000',
    help: ['listen port'],
    doc: 'listen port',
  },
  {
    env: 'TOKENSTILE_DATABASE_URL',
    type: 'text',
    default: defaultDatabaseUrl,
    help: ['sqlite:PATH, sqlite::memory: or postgres://…'],
    doc: '`sqlite:PATH` (a new file is created `0600`, with a warning naming it except for the default), `sqlite::memory:` (nothing survives a restart), or `postgres://…` with optional `schema=` and `max=` parameters ([scaling](scaling.md)). The SQLite file\'s folder must exist: only the default `./data` is created (`0700`), so a mistyped path fails instead of starting on a new, empty database',
  },
  {
    env: 'TOKENSTILE_REDIS_URL',
    type: 'text',
    defaultText: 'unset',
    help: ['redis://, rediss://, redis+sentinel://, redis+cluster://; unset: one instance,', 'everything in the database and this process'],
    doc: '`redis://…`, `rediss://…`, `redis+sentinel://…`, `redis+cluster://…`: revocation fan-out, shared rate limits and cache for several instances',
  },
  {
    env: 'TOKENSTILE_REDIS_PREFIX',
    type: 'text',
    default: 'tokenstile:',
    help: ['prefix of Redis keys and channels'],
    doc: 'prefix of every Redis key and channel',
  },
  {
    env: 'TOKENSTILE_RATE_LIMITS',
    type: 'choice',
    default: 'on',
    values: ['on', 'off'],
    help: ['on | off'],
    doc: '`off` turns the sign-in, registration and refresh limits off',
  },
  {
    option: 'keyEncryptionKey',
    env: 'TOKENSTILE_KEY_ENCRYPTION_KEY',
    type: 'text',
    defaultText: 'unset',
    help: ['32 random bytes, base64url: seals private keys and secrets in the database'],
    doc: '32 random bytes, base64url (`openssl rand -base64 32`): private signing keys and server secrets are sealed in the database with it; those written before it was set stay plaintext until `tokenstile keys reseal` ([security](security.md#secrets-at-rest))',
  },
  {
    env: 'TOKENSTILE_METRICS',
    type: 'choice',
    default: 'on',
    values: ['on', 'off'],
    help: ['on | off: Prometheus metrics at /metrics'],
    doc: '`off` stops serving Prometheus metrics at `/metrics`',
  },
  coreOptions.issuer,
  coreOptions.audience,
  coreOptions.accessTokenTtl,
  coreOptions.refreshTokenTtl,
  coreOptions.sessionMaxLifetime,
  coreOptions.signingAlgorithm,
  coreOptions.clockTolerance,
  coreOptions.refreshGrace,
  coreOptions.accessTokenFormat,
  coreOptions.revocationLease,
  coreOptions.revocationCheck,
  coreOptions.dpop,
  coreOptions.dpopNonce,
  coreOptions.dpopProofWindow,
  {
    env: 'TOKENSTILE_TRUST_PROXY',
    type: 'text',
    default: 'false',
    help: ['proxies trusted for X-Forwarded-For: a hop count, or their addresses/CIDRs,', 'comma-separated (true takes the forgeable left-most entry)'],
    doc: 'which proxies may report the client IP in `X-Forwarded-For`: a hop count (`1` for one load balancer), or the proxies\' addresses and CIDRs, comma-separated (`10.0.0.0/8,127.0.0.1`; also `loopback`, `linklocal`, `uniquelocal`). `true` is **unsafe** and logs a warning at start; see [Behind a proxy](#behind-a-proxy)',
  },
  {
    env: 'TOKENSTILE_LOG_LEVEL',
    type: 'choice',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    help: ['fatal | error | warn | info | debug | trace | silent'],
    doc: '`fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`',
  },
  {
    env: 'TOKENSTILE_CLIENTS',
    type: 'text',
    defaultText: 'unset',
    help: ['resource-server clients for /oauth/* and /revocations/stream:', 'id:secret or id:sha256.HASH, comma-separated (tokenstile clients create)'],
    doc: 'resource-server clients allowed on `/oauth/introspect`, `/oauth/revoke` and `/revocations/stream`: `id:secret` or `id:sha256.HASH` (what `tokenstile clients create` prints; only the hash is then in the environment), comma-separated. Ids are 1–64 of `A-Z a-z 0-9 . _ ~ -`; plain secrets at least 16 characters. Clients can also be stored in the database with `tokenstile clients create` ([verify](verify.md))',
  },
  {
    env: 'TOKENSTILE_COOKIE_SAMESITE',
    type: 'choice',
    default: 'lax',
    values: ['lax', 'strict'],
    help: ['lax | strict: SameSite of the browser access cookie'],
    doc: '`lax` or `strict`: `SameSite` of the browser access cookie (the refresh cookie is always `Strict`); see [browsers](browser.md)',
  },
  {
    env: 'TOKENSTILE_ALLOWED_ORIGINS',
    type: 'text',
    defaultText: 'the issuer\'s origin',
    help: ['origins whose pages may use the cookie transport and CORS, comma-separated', '(a request\'s own origin always may)'],
    doc: 'comma-separated origins (`https://app.example.com,http://localhost:5173`) whose pages may sign in with the cookie transport and send cookie-authenticated state changes, and that get CORS with credentials (see [browser](browser.md#cors-pages-on-another-origin)); the origin a request was sent to is always allowed',
  },
  {
    env: 'TOKENSTILE_ACCOUNT_PAGE',
    type: 'choice',
    default: 'on',
    values: ['on', 'off'],
    help: ['on | off: the account page at /account'],
    doc: '`off` stops serving the account page at `/account`',
  },
  socialOptions.oauthProviders,
  ssfReceiverOptions.sharedSignalsReceivers,
  ...Object.values(recoveryOptionDefinitions),
  ...Object.values(sharedSignalsOptionDefinitions),
];

/** The definition of environment variable `name`. */
export function envDefinition(name: string): OptionDefinition {
  const d = environment.find((o) => o.env === name);
  if (!d) throw new Error(`no definition for ${name}`);
  return d;
}

/** The default as help shows it (no Markdown). */
function helpDefault(d: OptionDefinition): string {
  return (d.defaultText ?? d.default ?? 'unset').replaceAll('`', '');
}

/** `--help`'s environment list, made from `environment`. */
export function environmentHelp(): string {
  const lines = ['Environment:'];
  for (const d of environment) {
    const [first, ...rest] = d.help;
    const name = d.env!.length < 30 ? d.env!.padEnd(30) : `${d.env} `;
    const body = [first!, ...rest];
    body[body.length - 1] += ` (default ${helpDefault(d)})`;
    lines.push(`  ${name}${body[0]}`, ...body.slice(1).map((l) => `${' '.repeat(32)}${l}`));
  }
  return lines.join('\n');
}

/** The environment table of docs/configuration.md, made from `environment`. */
export function environmentTable(): string {
  const rows = environment.map((d) => `| \`${d.env}\` | ${d.defaultText ?? `\`${d.default}\``} | ${d.doc} |`);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
