import type { Clock } from './clock.ts';
import type { Duration } from './duration.ts';
import { ConfigError } from './errors.ts';
import type { RandomSource } from './ids.ts';
import type { SigningAlgorithm } from './keys.ts';
import { choiceOption, coreOptions, durationOption } from './option-definitions.ts';
import type { AuthEventListener } from './events.ts';
import type { PasswordHasher } from './password.ts';
import type { ProofReplayStore } from './proof-replay.ts';
import { resolveRateLimits, type RateLimitOptions, type ResolvedRateLimits } from './rate-limits.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { RevocationFeed } from './revocation-feed.ts';
import type { SessionCache } from './session-cache.ts';
import type { Stores } from './stores.ts';
import type { CoreFeature } from './feature.ts';
import type { RecoveryOptions } from '../features/recovery/recovery-options.ts';
import type { SharedSignalsOptions } from '../features/ssf/ssf-options.ts';

// Declared beside its parser so that the verify SDK can name it without loading this module's imports.
export type { Duration } from './duration.ts';

/** The minimal logger Tokenstile writes to (pino's and Fastify's loggers fit). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of `createTokenstile`; every field but `stores` and `issuer` has a default. */
export interface TokenstileOptions {
  /** The opened backend (see `openStores`). */
  readonly stores: Stores;
  /** `iss` of every token; an absolute http(s) URL, e.g. `https://auth.example.com`. */
  readonly issuer: string;
  /** `aud` of access tokens. Default `tokenstile`. */
  readonly audience?: string;
  /** Access-token lifetime. Default `15m`; between 1s and 24h. */
  readonly accessTokenTtl?: Duration;
  /** Session (refresh-token) lifetime, sliding: every refresh renews it. Default `7d`. */
  readonly refreshTokenTtl?: Duration;
  /**
   * Absolute session lifetime: however often it is refreshed, a session ends this long after its
   * sign-in (refreshes answer `invalid_refresh_token`, and the user signs in again). Default `30d`;
   * between 60s and 3650d, longer than `accessTokenTtl`.
   */
  readonly sessionMaxLifetime?: Duration;
  /** Default `ES256`; also `EdDSA` or `RS256`. Tokens with another `alg` are always refused. */
  readonly signingAlgorithm?: SigningAlgorithm;
  /**
   * What clients hold as an access token. Default `jwt`: a signed JWT that any service verifies
   * locally. `opaque`: a reference handle (`tsa_…`) that carries nothing readable; the session row
   * maps it to the session, every refresh replaces it and logout deletes the mapping. Resource
   * servers check it by introspection. See docs/recipes.md.
   */
  readonly accessTokenFormat?: AccessTokenFormat;
  /**
   * How a protected request learns that its session has ended. Default `pushed`: the in-memory
   * revocation list that every instance keeps current (no I/O per request). `strict`: the session
   * is also read from the store on every request (one indexed lookup), so the store is the only
   * truth, even for an instance cut off from the revocation feed. Opaque handles are always
   * looked up (through the session cache).
   */
  readonly revocationCheck?: RevocationCheck;
  /**
   * DPoP (RFC 9449) sender-constrained tokens. Default `optional`: a client that sends a `DPoP`
   * proof when it signs in gets a session, refresh token and access tokens bound to its key, and
   * must prove possession of it on every use; one that sends none gets Bearer tokens. `required`:
   * every sign-in and refresh needs a proof. `off`: DPoP headers are ignored. See docs/dpop.md.
   */
  readonly dpop?: DpopMode;
  /** DPoP proofs must carry a server nonce (`DPoP-Nonce`). Default false. */
  readonly dpopNonce?: boolean;
  /** How far a proof's `iat` may be from now, either way, on top of `clockTolerance`. Default `60s`. */
  readonly dpopProofWindow?: Duration;
  /**
   * Where DPoP proof `jti`s are remembered, so a replay is refused. Default: this process's memory;
   * the server uses Redis when it has one, so a proof used on one instance is refused by all.
   */
  readonly proofReplay?: ProofReplayStore;
  /** Leeway for `exp`, `nbf` and `iat`. Default `5s`; at most `5m`. */
  readonly clockTolerance?: Duration;
  /** Window in which a retry with the just-spent refresh token gets the same successor. Default `10s`; at most `5m`. */
  readonly refreshGrace?: Duration;
  /**
   * How often the store is polled for revocations made elsewhere (another process, the CLI).
   * Default `250ms`. Every completed poll renews the store lease (see `revocationLease`).
   */
  readonly revocationPollInterval?: Duration;
  /**
   * How long this process trusts its in-memory revocation list without fresh contact. Default
   * `1.5s`; between `200ms` and `10s`. Two leases: the store lease (a completed poll vouches for the
   * list this long, at least four poll intervals) and, with Redis, the feed lease (this instance's
   * own heartbeat came back through Redis). Once either lapses, protected requests read the store
   * until it is renewed. A revocation that an instance does not acknowledge (hung, partitioned)
   * waits at most this long; a revocation that cannot be published waits out one store lease.
   */
  readonly revocationLease?: Duration;
  /** How often expired sessions and revocations are purged, in the background. Default `1h`. */
  readonly purgeInterval?: Duration;
  /** Default: argon2id at OWASP parameters. */
  readonly passwordHasher?: PasswordHasher;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: `crypto.randomFillSync`. */
  readonly random?: RandomSource;
  /**
   * How many verified access tokens to remember, so that a client's next request with the same
   * token skips the signature check (expiry and revocation are still checked every time).
   * Default 10000; 0 turns it off.
   */
  readonly verifiedTokenCacheSize?: number;
  /** Where warnings (a failed poll or purge) go. Default: silent. */
  readonly logger?: Logger;
  /**
   * Pushes revocations to every instance (Redis). Without one, this process is assumed to be the
   * only server; revocations by other processes (the CLI) arrive with the store poll.
   */
  readonly feed?: RevocationFeed;
  /** Counts attempts for the rate limits; shared (Redis) across instances. Default: in this process. */
  readonly rateLimiter?: RateLimiter;
  /** Caches profiles and app data per user and session; shared (Redis) across instances. Default: in this process. */
  readonly sessionCache?: SessionCache;
  /** Limits on sign-in, registration and refresh attempts; `false` turns them all off. */
  readonly rateLimits?: RateLimitOptions | false;
  /** Told of every login, refresh, revocation and so on (metrics, logs). Must not throw. */
  readonly onEvent?: AuthEventListener;
  /** Record logins, logouts, revocations, password changes and key events in the store's audit log. Default true. */
  readonly audit?: boolean;
  /** How long audit entries are kept. Default `90d`. */
  readonly auditRetention?: Duration;
  /**
   * 32 random bytes (base64url) that seal private signing keys and server secrets in the store
   * (AES-256-GCM). Default: stored in plaintext; protect the database. Keys written before it was
   * set stay readable; once set, starting without it fails.
   */
  readonly keyEncryptionKey?: string;
  /**
   * The core halves of the features to open with this core (their migrations are applied, then
   * their `setup` runs once; see docs/embedding.md). Default: none. The ready servers (`buildApp`,
   * the plugin, the Node and fetch handlers) pass the built-in features of src/features/index.ts.
   */
  readonly features?: readonly CoreFeature[];
  /**
   * Account recovery and email (the `recovery` feature): SMTP or the outbox, where links point,
   * the verified-email requirement, sign-in links, link lifetimes. See docs/recovery.md.
   */
  readonly recovery?: RecoveryOptions;
  /**
   * The OpenID Shared Signals transmitter (the `ssf` feature): SSF streams for receivers, CAEP
   * session-revoked and credential-change SETs by push or poll. Off by default. See
   * docs/shared-signals.md.
   */
  readonly sharedSignals?: SharedSignalsOptions;
  /**
   * The providers of social and enterprise sign-in (the `social` feature, docs/social.md): a list
   * of `{id, issuer | preset, clientId, clientSecret, scopes?, name?}`, or that list as JSON text
   * (`TOKENSTILE_OAUTH_PROVIDERS`). Checked when the feature opens. Default: none.
   */
  readonly oauthProviders?: string | readonly object[];
  /**
   * Upstream Shared Signals transmitters whose `session-revoked` events end Tokenstile sessions
   * (the `ssf-receiver` feature, docs/shared-signals.md#receiver-ending-sessions-when-an-upstream-says-so): a list of `{id, issuer,
   * delivery, jwksUri?, audience?, subjects?, events?, createStream?}`, or that list as JSON text
   * (`TOKENSTILE_SSF_RECEIVERS`). Checked when the feature opens. Default: none (off).
   */
  readonly sharedSignalsReceivers?: string | readonly object[];
}

/** `jwt` (default) or `opaque` reference handles. */
export type AccessTokenFormat = 'jwt' | 'opaque';
/** Whether clients may (`optional`), must (`required`) or cannot (`off`) bind their tokens to a key with DPoP. */
export type DpopMode = 'off' | 'optional' | 'required';

/** `pushed` (default: in-memory list fed by revocation events) or `strict` (store read per request). */
export type RevocationCheck = 'pushed' | 'strict';

/** Validated settings; every duration in ms (the options take text or seconds, see `Duration`). */
export interface TokenstileConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly accessTokenFormat: AccessTokenFormat;
  readonly revocationCheck: RevocationCheck;
  readonly dpop: DpopMode;
  readonly dpopNonce: boolean;
  /** How far a proof's `iat` may be from now, either way (the clock tolerance comes on top). */
  readonly dpopProofWindowMs: number;
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;
  /** Absolute session lifetime, from sign-in. */
  readonly sessionMaxLifetimeMs: number;
  readonly signingAlgorithm: SigningAlgorithm;
  readonly clockToleranceMs: number;
  readonly refreshGraceMs: number;
  readonly revocationPollIntervalMs: number;
  /** The feed lease. */
  readonly revocationLeaseMs: number;
  /** The store lease: the lease, or four poll intervals if longer. */
  readonly storeLeaseMs: number;
  readonly purgeIntervalMs: number;
  readonly verifiedTokenCacheSize: number;
  readonly rateLimits: ResolvedRateLimits;
  readonly auditRetentionMs: number;
  /** How long a retired signing key stays published: until every token it signed has expired. */
  readonly keyPublishMs: number;
  /** As given (`TokenstileOptions.oauthProviders`), absent when not: the social feature checks it. */
  readonly oauthProviders?: string | readonly object[];
}

/** The largest clock tolerance any process may be configured with, in seconds. */
export const maxClockTolerance = 300;

/**
 * A revocation outlives the last access token of its session by this much: the largest clock
 * tolerance any verifier may use, plus a minute. Fixed, so that the lifetime of an entry does not
 * depend on the configuration of the process that wrote it.
 */
export const revocationHeadroomMs = (maxClockTolerance + 60) * 1000;

/** Checks options once, at startup, with messages that name the field, and freezes the result. */
export function resolveConfig(options: Omit<TokenstileOptions, 'stores'>): TokenstileConfig {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(options.issuer);
  } catch {
    throw new ConfigError(`issuer must be an absolute URL, got ${JSON.stringify(options.issuer)}`);
  }
  if (issuerUrl.protocol !== 'https:' && issuerUrl.protocol !== 'http:') {
    throw new ConfigError(`issuer must be an http(s) URL, got ${JSON.stringify(options.issuer)}`);
  }
  const audience = options.audience ?? coreOptions.audience.default;
  if (typeof audience !== 'string' || audience.length === 0) throw new ConfigError('audience must be a non-empty string');
  const signingAlgorithm = choiceOption('signingAlgorithm', options.signingAlgorithm);
  const accessTokenFormat = choiceOption('accessTokenFormat', options.accessTokenFormat);
  const revocationCheck = choiceOption('revocationCheck', options.revocationCheck);
  const dpop = choiceOption('dpop', options.dpop);
  if (options.dpopNonce !== undefined && typeof options.dpopNonce !== 'boolean') throw new ConfigError(`dpopNonce must be true or false, got ${JSON.stringify(options.dpopNonce)}`);
  const accessTtlMs = durationOption('accessTokenTtl', options.accessTokenTtl);
  const refreshTtlMs = durationOption('refreshTokenTtl', options.refreshTokenTtl);
  const sessionMaxLifetimeMs = durationOption('sessionMaxLifetime', options.sessionMaxLifetime);
  if (sessionMaxLifetimeMs <= accessTtlMs) throw new ConfigError('sessionMaxLifetime must be longer than accessTokenTtl');
  const clockToleranceMs = durationOption('clockTolerance', options.clockTolerance);
  const refreshGraceMs = durationOption('refreshGrace', options.refreshGrace);
  const pollMs = durationOption('revocationPollInterval', options.revocationPollInterval);
  const leaseMs = durationOption('revocationLease', options.revocationLease);
  const purgeMs = durationOption('purgeInterval', options.purgeInterval);
  if (refreshTtlMs <= accessTtlMs) {
    throw new ConfigError(`refreshTokenTtl (${refreshTtlMs / 1000}s) must be longer than accessTokenTtl (${accessTtlMs / 1000}s)`);
  }
  const cacheSize = options.verifiedTokenCacheSize ?? 10_000;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new ConfigError(`verifiedTokenCacheSize must be a whole number ≥ 0, got ${JSON.stringify(cacheSize)}`);
  }
  return Object.freeze({
    issuer: options.issuer,
    audience,
    accessTokenFormat,
    revocationCheck,
    dpop,
    dpopNonce: options.dpopNonce === true,
    dpopProofWindowMs: durationOption('dpopProofWindow', options.dpopProofWindow),
    accessTtlMs,
    refreshTtlMs,
    sessionMaxLifetimeMs,
    signingAlgorithm,
    clockToleranceMs,
    refreshGraceMs,
    revocationPollIntervalMs: pollMs,
    revocationLeaseMs: leaseMs,
    storeLeaseMs: Math.max(leaseMs, 4 * pollMs),
    purgeIntervalMs: purgeMs,
    verifiedTokenCacheSize: cacheSize,
    rateLimits: resolveRateLimits(options.rateLimits),
    auditRetentionMs: durationOption('auditRetention', options.auditRetention),
    keyPublishMs: accessTtlMs + maxClockTolerance * 1000 + 60_000,
    ...(options.oauthProviders !== undefined && { oauthProviders: options.oauthProviders }),
  });
}
