import { AccessTokenVerifier } from './access-tokens.ts';
import * as accounts from './accounts.ts';
import { systemClock } from './clock.ts';
import { resolveConfig, revocationHeadroomMs, type TokenstileConfig, type TokenstileOptions } from './config.ts';
import { CacheGuard } from './cache-guard.ts';
import { createAuthenticator, type AuthResult } from './authenticator.ts';
import { OpaqueTokenCodec } from './opaque-tokens.ts';
import { type CoreContext, type DeviceInfo, type IssuedTokens, type PublicUser } from './context.ts';
import { ConfigError, fail, ok, type Result } from './errors.ts';
import { secureRandom } from './ids.ts';
import { generateSigningKey, Keyring, type PublicJwk } from './keys.ts';
import { defaultPublishAheadMs, describeKeys, keyReloadIntervalMs, rotateSigningKey, type KeyInfo, type RotationResult } from './key-rotation.ts';
import { revokeSigningKey, type KeyRevocation } from './key-revocation.ts';
import { introspectToken, revokeToken, type Introspection } from './token-introspection.ts';
import { createArgon2Hasher } from './password.ts';
import { RefreshTokenCodec } from './refresh-tokens.ts';
import { CsrfTokens } from './csrf-tokens.ts';
import { attachInternals } from './core-internals.ts';
import type { Revocation } from './revocation.ts';
import { RevocationSync } from './revocation-sync.ts';
import { parseKeyEncryptionKey, resealKeyStore, sealedKeyStore, type ResealReport } from './key-encryption.ts';
import type { KeyStore } from './key-store.ts';
import { AuditQueue, auditEntryOf, type AuditEntry } from './audit-log.ts';
import { single } from './single.ts';
import type { AuthEvent } from './events.ts';
import type { SessionCache } from './session-cache.ts';
import { DeviceProofs, deviceProofKey } from './device-proofs.ts';
import { DpopPolicy } from './dpop.ts';
import { DpopNonces, dpopNonceKey } from './dpop-nonces.ts';
import { MemoryProofReplayStore } from './proof-replay.ts';
import { MemoryRateLimiter } from './memory-rate-limiter.ts';
import { MemorySessionCache } from './memory-session-cache.ts';
import { RateLimits } from './rate-limits.ts';
import type { RevokeTarget, SessionRecord } from './session-store.ts';
import type { UserRecord } from './user-store.ts';
import * as sessions from './sessions.ts';
import type { AuthInfo } from './auth-info.ts';
import type { LogoutScope, SessionView } from './sessions.ts';
import type { Stores } from './stores.ts';
import { checkFeatures, featureMigrations, type SignInRefusal } from './feature.ts';
import { featureHooks, runFeatureClosers, runFeaturePurges, setUpFeatures } from './feature-setup.ts';
import { createOneTimeTokens } from './one-time-tokens.ts';

export type { AuthResult } from './authenticator.ts';

/**
 * The Tokenstile core: accounts, sessions, tokens and revocation, with no HTTP in sight.
 * Expected failures come back as `{ ok: false, code }`. Holds what applications call; the raw
 * stores, maintenance and revocation-stream internals are on `internals(core)`
 * (src/core/core-internals.ts), which Tokenstile's HTTP layer and CLI use and the package does not export.
 */
export interface Tokenstile {
  readonly config: TokenstileConfig;
  register(input: accounts.Registration, device?: DeviceInfo): Promise<Result<PublicUser, 'invalid_request' | 'weak_password' | 'email_taken' | 'too_many_requests'>>;
  /**
   * Creates a user without a password, for the host app's own sign-in (OAuth, SSO…): start their
   * sessions with `startSession`. `email_taken` when the email exists. See docs/embedding.md.
   */
  createUser(input: { email: string; name?: string | null }): Promise<Result<PublicUser, 'invalid_request' | 'email_taken'>>;
  /**
   * Starts a session for a user the host app signed in itself, with `amr` saying how (RFC 8176,
   * recorded on the session and carried by its access tokens), and returns the same tokens as
   * `login`; refresh, logout and revocation work as for any session. See `SessionStart`.
   *
   * @example
   * const user = await core.createUser({ email: profile.email, name: profile.name });
   * const tokens = await core.startSession({ userId, amr: ['fed'], device: { ip, userAgent } });
   */
  startSession(input: sessions.SessionStart): Promise<Result<IssuedTokens, 'invalid_request' | 'not_found' | 'account_disabled' | 'invalid_credentials'>>;
  /**
   * Signs in; a disabled account answers `invalid_credentials` whatever the password. After the
   * password matched, the features' sign-in gates run: the first refusal comes back as it is
   * (`SignInRefusal`: a registered code and its `details`, e.g. `mfa_required`).
   */
  login(input: { email: string; password: string }, device?: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_credentials' | 'too_many_requests'> | SignInRefusal>;
  /**
   * A device proof for `email` (after a successful sign-in): the same device as `presented` when
   * that is a valid proof for it, else a new one. Sent back with later sign-ins (the device
   * cookie), it lets the throttle keep this device's attempts apart from a guesser's.
   */
  deviceProof(email: string, presented?: string | null): string;
  refresh(refreshToken: unknown, device?: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_refresh_token' | 'refresh_token_reused' | 'too_many_requests' | 'invalid_dpop_proof'>>;
  /**
   * Checks an access token: signature, claims, and the in-memory revocation list. Synchronous and
   * free of I/O while the revocation feed is healthy (the protected-request hot path); while it is
   * not, a promise that also asks the store, `service_unavailable` if the store cannot answer.
   * In `strict` mode, and for opaque handles, always a promise (the session is looked up).
   * A DPoP-bound token (`claims.cnf`) passes here without its proof: only the HTTP layer (routes,
   * `protect`, the adapters' `authenticate(request)`) checks the proof, so a caller of this method
   * must refuse such a token or check its proof itself (docs/dpop.md), or a stolen one works.
   */
  authenticate(accessToken: string): AuthResult | Promise<AuthResult>;
  /** True while the feed is down or catching up, so that `authenticate` asks the store. */
  readonly degraded: boolean;
  logout(auth: AuthInfo, scope?: LogoutScope, device?: DeviceInfo): Promise<void>;
  listSessions(auth: AuthInfo): Promise<SessionView[]>;
  revokeSession(auth: AuthInfo, sessionId: string, device?: DeviceInfo): Promise<Result<void, 'not_found'>>;
  changePassword(auth: AuthInfo, input: { currentPassword: string; newPassword: string }, device?: DeviceInfo): Promise<Result<void, 'invalid_credentials' | 'weak_password' | 'session_revoked' | 'too_many_requests'>>;
  profile(auth: AuthInfo): Promise<Result<PublicUser, 'session_revoked'>>;
  updateProfile(auth: AuthInfo, input: { name: string | null }): Promise<Result<PublicUser, 'invalid_request' | 'session_revoked'>>;
  /** Administrative: ends sessions by id or by user, as the CLI does. */
  revoke(target: RevokeTarget): Promise<Revocation[]>;
  /** Administrative: the audit trail of a user (or everyone), newest first. */
  audit(filter: { userId?: string; limit: number; beforeSeq?: number }): Promise<AuditEntry[]>;
  /** Administrative: disables an account and ends all its sessions. */
  disableUser(userId: string): Promise<Result<void, 'not_found'>>;
  /** Administrative: a user by id or by email. */
  findUser(ref: string): Promise<UserRecord | null>;
  /** Administrative: a user's live sessions, newest first. */
  listUserSessions(userId: string): Promise<SessionRecord[]>;
  /** Administrative: one page of every live session, newest first (see `SessionStore.listAllLive`). */
  listLiveSessions(page: { readonly limit: number; readonly before?: string }): Promise<SessionRecord[]>;
  /** Deletes expired sessions, revocation entries and one-time tokens now (and runs the features' purges); returns how many sessions and revocations went. */
  purge(): Promise<{ sessions: number; revocations: number }>;
  /** The public keys (RFC 7517). */
  jwks(): { keys: PublicJwk[] };
  /**
   * Re-reads the signing keys from the store (it also happens every 10 s, and when a scheduled
   * retirement takes effect), so that a rotation by another process is used without a restart.
   */
  reloadKeys(): Promise<void>;
  /**
   * Administrative: publishes a new signing key now, which signs from `publishAheadMs` later
   * (default 10 minutes); the current key signs until then and stays published until its tokens
   * have expired. Throws `RotationPendingError` while a rotation is pending, unless `force`
   * (which replaces the pending key). See `docs/cli.md` (`tokenstile keys rotate`).
   */
  rotateKeys(options?: { publishAheadMs?: number; force?: boolean }): Promise<RotationResult>;
  /**
   * Administrative: revokes a compromised signing key: unpublished at once (a new key signs in its
   * place if it was signing), and every session that may hold a token it signed is ended. See
   * `revokeSigningKey` and `docs/cli.md` (`tokenstile keys revoke`).
   */
  revokeKey(kid: string): Promise<KeyRevocation>;
  /** Administrative: every stored signing key with its state, never a private part. */
  listKeys(): Promise<KeyInfo[]>;
  /**
   * Administrative: seals under `keyEncryptionKey` every private key and server secret still
   * stored in plaintext (written before the setting), in place; tokens issued before stay valid.
   * Throws a `ConfigError` when no key-encryption key is set. See `tokenstile keys reseal`.
   */
  resealKeys(): Promise<ResealReport>;
  /** RFC 7662: what an access or refresh token stands for; `unavailable` when the store cannot say. */
  introspect(token: string): Promise<Introspection | 'unavailable'>;
  /** RFC 7009: ends the session of a refresh or access token; returns it, null when nothing ended, `unavailable` when the token could not be checked. */
  revokeToken(token: string): Promise<string | null | 'unavailable'>;
  /** Number of live entries in the in-memory revocation list. */
  readonly revocationCount: number;
  /** Stops background work, waiting for a run under way. Does not close the stores (their opener does). */
  close(): Promise<void>;
}

async function loadKeyring(store: KeyStore, config: TokenstileConfig, now: number, emit: (e: AuthEvent) => void): Promise<Keyring> {
  let keys = await store.listSigningKeys();
  if (!keys.some((k) => k.alg === config.signingAlgorithm && k.retiredAt === null)) {
    // Instances starting together may all try; the store lets exactly one key in.
    const key = generateSigningKey(config.signingAlgorithm, now);
    if (await store.addSigningKey(key)) emit({ type: 'key_generated', kid: key.kid, alg: key.alg });
    keys = await store.listSigningKeys();
  }
  return new Keyring(keys, config.signingAlgorithm, now, config.keyPublishMs);
}

/**
 * Opens the core on `options.stores`: loads or generates the signing key and the refresh-token
 * MAC key, loads live revocations, starts the revocation feed if there is one, and starts a timer
 * that polls the store for revocations made elsewhere and purges expired rows.
 */
export async function createTokenstile(options: TokenstileOptions): Promise<Tokenstile> {
  const config = resolveConfig(options);
  const { stores } = options;
  const features = options.features ?? [];
  checkFeatures(features);
  // The features' tables exist before anything (their setup included) may use them.
  const migrations = featureMigrations(features, stores.database.dialect);
  if (migrations.length > 0) await stores.migrate(migrations);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? secureRandom;
  const hasher = options.passwordHasher ?? createArgon2Hasher();
  const logger = options.logger;
  const listener = options.onEvent;
  const audit = new AuditQueue(options.audit === false ? null : stores.audit, logger);
  const hooks = featureHooks();
  const emit = (event: AuthEvent) => {
    for (const observe of [listener, ...hooks.listeners]) {
      try {
        observe?.(event);
      } catch {
        // An observer's failure must not fail a login.
      }
    }
    audit.push(auditEntryOf(event, clock.now()));
  };
  const keyEncryptionKey = options.keyEncryptionKey === undefined ? null : parseKeyEncryptionKey(options.keyEncryptionKey);
  const keys = sealedKeyStore(stores.keys, keyEncryptionKey, logger);
  let keyring = await loadKeyring(keys, config, clock.now(), emit);
  let keyringLoadedAt = clock.now();
  const reloadKeys = single(async () => {
    const now = clock.now();
    const next = new Keyring(await keys.listSigningKeys(), config.signingAlgorithm, now, config.keyPublishMs);
    keyringLoadedAt = now;
    // Only a real change replaces the keyring: a new one empties the verified-token caches.
    if (next.signing.kid !== keyring.signing.kid || JSON.stringify(next.jwks()) !== JSON.stringify(keyring.jwks()) || next.validUntil !== keyring.validUntil) {
      if (next.signing.kid !== keyring.signing.kid) logger?.info({ kid: next.signing.kid, previous: keyring.signing.kid }, 'tokenstile: signing with a new key');
      keyring = next;
    }
  });
  const macKey = await keys.secret('refresh-token-mac', () => random(32).toString('base64url'));
  const csrfKey = await keys.secret('csrf-token-mac', () => random(32).toString('base64url'));
  const sync = new RevocationSync({ stores, clock, feed: options.feed, emit, logger, storeLeaseMs: config.storeLeaseMs, verifierLeaseMs: config.revocationLeaseMs, skewMs: config.clockToleranceMs });
  if (!options.feed && stores.kind !== 'sqlite') {
    logger?.warn({ store: stores.kind }, 'tokenstile: no revocation feed: other instances on this database see revocations within a poll interval, not at once; set TOKENSTILE_REDIS_URL');
  }
  await sync.start();
  const cache = new CacheGuard(options.sessionCache ?? new MemorySessionCache({ now: () => clock.now() }), { now: () => clock.now(), logger });

  const dummyHash = hasher.hash(random(24).toString('base64url'));
  dummyHash.catch(() => {});

  const ctx: CoreContext = {
    config,
    stores,
    clock,
    random,
    hasher,
    get keyring() {
      return keyring;
    },
    codec: new RefreshTokenCodec(Buffer.from(macKey, 'base64url'), random),
    opaque: config.accessTokenFormat === 'opaque' ? new OpaqueTokenCodec(Buffer.from(macKey, 'base64url'), config.verifiedTokenCacheSize) : null,
    verifier: new AccessTokenVerifier(() => keyring, config, clock, config.verifiedTokenCacheSize),
    limits: new RateLimits(config.rateLimits, options.rateLimiter ?? new MemoryRateLimiter(), new MemoryRateLimiter(), logger),
    // Derived from the refresh-token MAC secret, so no new secret is stored.
    devices: new DeviceProofs(deviceProofKey(Buffer.from(macKey, 'base64url')), random),
    get cache(): SessionCache {
      // After a failed drop this instance cannot tell stale entries from fresh: read the store.
      return cache.current;
    },
    logger,
    dummyHash,
    emit,
    async revoke(target, cause, origin = {}) {
      const { written, confirmed } = await sync.revoke(target, revocationHeadroomMs);
      for (const r of written) emit({ type: 'session_revoked', userId: r.userId, sessionId: r.id, cause, ...origin });
      // Answered only once every instance refuses the sessions' tokens (see RevocationSync.revoke),
      // and what the features record of it (the shared-signals outbox) is written.
      const recorded = written.length === 0 ? [] : hooks.revoked.map((record) => record(written, cause, origin));
      await Promise.all([confirmed, ...recorded, ...written.map((r) => ctx.dropCache(r.userId, r.id))]);
      return written;
    },
    dropCache: (userId, sessionId) => cache.drop(userId, sessionId),
    signInGates: hooks.gates,
  };
  const oneTimeTokens = createOneTimeTokens(stores.oneTimeTokens, clock, random);

  let lastCounts = { sessions: 0, revocations: 0 };
  const purge = single(async () => {
    sync.list.purge(clock.now());
    const sessions = await stores.sessions.purge(clock.now(), { headroomMs: revocationHeadroomMs, graceMs: config.refreshGraceMs });
    lastCounts = { sessions, revocations: await stores.revocations.purge(clock.now()) };
    await stores.audit.purge(clock.now() - config.auditRetentionMs);
    await stores.oneTimeTokens.purge(clock.now());
    await runFeaturePurges(hooks, clock.now(), (err) => logger?.warn({ err }, 'tokenstile: a feature purge failed'));
  });

  let nextPurge = clock.now();
  const tick = () => {
    sync.tick();
    void cache.redo();
    if (clock.now() >= keyringLoadedAt + keyReloadIntervalMs || clock.now() >= keyring.validUntil) {
      reloadKeys.run().catch((err: unknown) => logger?.warn({ err }, 'tokenstile: reloading the signing keys failed'));
    }
    if (clock.now() >= nextPurge) {
      nextPurge = clock.now() + config.purgeIntervalMs;
      purge.run().catch((err: unknown) => logger?.warn({ err }, 'tokenstile: purge failed'));
    }
  };
  const timer = setInterval(tick, config.revocationPollIntervalMs);
  timer.unref();

  const authenticate = createAuthenticator({ config, clock, verifier: ctx.verifier, opaque: ctx.opaque, sync, sessions: stores.sessions, users: stores.users, host: ctx });

  const core: Tokenstile = {
    config,
    register: (input, device = {}) => accounts.register(ctx, input, device),
    login: (input, device = {}) => accounts.login(ctx, input, device),
    createUser: (input) => accounts.createUser(ctx, input),
    startSession: (input) => sessions.startSessionFor(ctx, input),
    deviceProof: (email, presented) => {
      const account = accounts.normalizeEmail(email) ?? email;
      const now = clock.now();
      return ctx.devices.issue(account, now, ctx.devices.verify(account, presented, now) ?? undefined);
    },
    refresh: (token, device = {}) => sessions.refresh(ctx, token, device),
    authenticate,
    logout: (auth, scope = 'local', device = {}) => sessions.logout(ctx, auth, scope, device),
    listSessions: (auth) => sessions.listSessions(ctx, auth),
    revokeSession: (auth, id, device = {}) => sessions.revokeOwnSession(ctx, auth, id, device),
    changePassword: (auth, input, device = {}) => accounts.changePassword(ctx, auth, input, device),
    profile: (auth) => accounts.profile(ctx, auth),
    updateProfile: (auth, input) => accounts.updateProfile(ctx, auth, input),
    revoke: (target) => ctx.revoke(target, 'admin'),
    audit: (filter) => stores.audit.query(filter),
    disableUser: (userId) => accounts.disableUser(ctx, userId),
    findUser: (ref) => accounts.findUser(ctx, ref),
    listUserSessions: (userId) => stores.sessions.listLive(userId, clock.now()),
    listLiveSessions: (page) => stores.sessions.listAllLive(clock.now(), page),
    purge: async () => {
      await purge.run();
      return lastCounts;
    },
    jwks: () => keyring.jwks(),
    reloadKeys: () => reloadKeys.run(),
    async rotateKeys(opts = {}) {
      const rotated = await rotateSigningKey(keys, config, clock.now(), opts.publishAheadMs ?? defaultPublishAheadMs, emit, { force: opts.force === true });
      await reloadKeys.run();
      return rotated;
    },
    async revokeKey(kid) {
      const deps = { keys, sessions: stores.sessions, refreshGraceMs: config.refreshGraceMs, revoke: ctx.revoke, emit };
      const revoked = await revokeSigningKey(deps, kid, clock.now());
      await reloadKeys.run();
      return revoked;
    },
    listKeys: async () => describeKeys(await keys.listSigningKeys(), config, clock.now()),
    async resealKeys() {
      if (!keyEncryptionKey) throw new ConfigError('nothing to seal with: set keyEncryptionKey (TOKENSTILE_KEY_ENCRYPTION_KEY) first');
      return resealKeyStore(stores.keys, keyEncryptionKey);
    },
    introspect: (token) => introspectToken(ctx, authenticate, token),
    revokeToken: (token) => revokeToken(ctx, authenticate, token),
    get revocationCount() {
      return sync.list.size;
    },
    get degraded() {
      return sync.degraded;
    },
    async close() {
      clearInterval(timer);
      await runFeatureClosers(hooks, (err) => logger?.warn({ err }, 'tokenstile: closing a feature failed'));
      await Promise.all([purge.idle(), reloadKeys.idle(), sync.close(), audit.flush()]);
    },
  };
  const apis = new Map<string, unknown>();
  attachInternals(core, {
    stores,
    csrf: new CsrfTokens(Buffer.from(csrfKey, 'base64url')),
    tick,
    syncRevocations: () => sync.poll(),
    liveRevocations: () => Array.from(sync.list.entries(), ([id, expiresAt]) => ({ id, expiresAt })),
    onRevocations: (listener) => sync.onAdded(listener),
    holdForVerifiers: (leaseMs) => sync.holdForVerifiers(leaseMs),
    refreshTokenSession: (token) => ctx.codec.parse(token)?.sessionId ?? null,
    features: apis,
    oneTimeTokens,
    dpop: new DpopPolicy(
      config,
      options.proofReplay ?? new MemoryProofReplayStore({ now: () => clock.now(), onOverflow: () => logger?.warn({}, 'tokenstile: the DPoP replay memory is full; the oldest proofs are forgotten early (use Redis)') }),
      // Derived from the refresh-token MAC secret, so no new secret is stored.
      new DpopNonces(dpopNonceKey(Buffer.from(macKey, 'base64url')), () => clock.now()),
      () => clock.now(),
      emit,
    ),
  });
  try {
    await setUpFeatures(ctx, core, features, { hooks, oneTimeTokens, apis, keyEncryptionKey, options });
  } catch (err) {
    await core.close().catch(() => {});
    throw err;
  }
  return core;
}
