/**
 * Tokenstile: JWT login with real logout. This entry is the framework-free core (sessions, stores,
 * errors, hashers): importing it loads no web framework, and no database driver or native module
 * until one is used. The HTTP adapters are subpaths: `tokenstile/fastify` (the plugin and the
 * standalone server `buildApp`), `tokenstile/node`, `tokenstile/fetch`.
 *
 * @example
 * ```ts
 * import { createTokenstile, openStores } from 'tokenstile';
 * const stores = await openStores('sqlite:./data/auth.db');
 * const core = await createTokenstile({ stores, issuer: 'https://auth.example.com' });
 * ```
 */
export { createTokenstile, type Tokenstile } from './core/tokenstile.ts';
export type { Duration, Logger, TokenstileConfig, TokenstileOptions } from './core/config.ts';
export type { DeviceInfo, IssuedTokens, PublicUser } from './core/context.ts';
export type { AuthInfo } from './core/auth-info.ts';
export type { AuthCache, CacheEntryOptions } from './core/auth-cache.ts';
export type { LogoutScope, SessionStart, SessionView } from './core/sessions.ts';
export { amrValues } from './core/amr.ts';
export type { AccessClaims } from './core/access-tokens.ts';
export type { Revocation } from './core/revocation.ts';
export type { SigningAlgorithm, PublicJwk, StoredSigningKey } from './core/keys.ts';
export type { Clock } from './core/clock.ts';
export type { Result, ErrorCode } from './core/errors.ts';
export { TokenstileError, ConfigError, StoreUnavailableError, errorMessages } from './core/errors.ts';
export { createArgon2Hasher, owaspArgon2Params, type PasswordHasher, type Argon2Params } from './core/password.ts';
export type { Stores } from './core/stores.ts';
export type { UserStore, UserRecord, UserPatch } from './core/user-store.ts';
export type { SessionStore, SessionRecord, Rotation, RotatedSession, RevokeTarget } from './core/session-store.ts';
export type { RevocationLog } from './core/revocation-log.ts';
export type { CredentialStore, CredentialRecord } from './core/credential-store.ts';
export type { KeyStore } from './core/key-store.ts';
export { openStores, openPostgresStores, defaultDatabaseUrl } from './stores/open-stores.ts';
export { openSqliteStores } from './stores/sqlite/sqlite-stores.ts';
export { problem, statusOf, type Problem } from './http/problem.ts';
export { openRedisBackends, type RedisBackends } from './stores/redis/redis-backends.ts';
export { MemoryRateLimiter } from './core/memory-rate-limiter.ts';
export { MemorySessionCache } from './core/memory-session-cache.ts';
export { MemoryProofReplayStore } from './core/proof-replay.ts';
export type { ProofReplayStore } from './core/proof-replay.ts';
export type { DpopMode } from './core/config.ts';
export type { RateLimiter, RateLimitDecision } from './core/rate-limiter.ts';
export type { RateLimit, RateLimitOptions } from './core/rate-limits.ts';
export type { SessionCache, CacheScope } from './core/session-cache.ts';
export type { RevocationFeed } from './core/revocation-feed.ts';
export type { AuthEvent, AuthEventListener, EventOrigin, RevocationCause } from './core/events.ts';
export type { AuditEntry, AuditLog } from './core/audit-log.ts';
export type { AuthResult } from './core/tokenstile.ts';
export type { ClientCredentials } from './core/clients.ts';
export type { ClientStore, StoredClient } from './core/client-store.ts';
export type { KeyInfo } from './core/key-rotation.ts';
export type { Introspection } from './core/token-introspection.ts';
export type { ResourceServerOptions } from './http/resource-server-options.ts';
export type { RevocationStreamOptions } from './features/revocation-stream/revocation-stream-routes.ts';
export { features } from './features/index.ts';
export { recentAuthGuard } from './features/mfa/step-up.ts';
export type { FeatureEntry } from './features/feature-entry.ts';
export type { SignInRefusal } from './core/feature.ts';
export type { RecoveryOptions } from './features/recovery/recovery-options.ts';
export type { MailMessage, MailTransport } from './features/mail/mail-transport.ts';
