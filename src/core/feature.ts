/*
 * The core half of a feature (issue 13): what a feature folder (src/features/<name>/) brings to
 * the core, and what the core hands it. The HTTP half (codes, routes) is the registry entry in
 * src/features/index.ts (`FeatureEntry`, src/features/feature-entry.ts).
 *
 * Differences from the plan (/work/prompts/foundation-api.md), and why:
 * - A feature's error codes are listed twice: in its registry entry (src/features/index.ts) and in
 *   src/features/feature-codes.ts, from which the `ErrorCode` union is derived. The verify package
 *   compiles core/errors.ts and must not pull the features' routes (or their dependencies) in, so
 *   the union cannot be derived from the registry itself; test/features/registry.test.ts fails
 *   when the two lists disagree. Codes of features outside the registry (an embedder's, a test's)
 *   are answered with their status too: the HTTP layer registers every mounted entry's codes.
 * - `FeatureKit` also has `dropCache` (after changing what `/auth/me` shows, e.g. a verified email)
 *   and `core` (the public core, for `core.findUser`…), and `emit` takes feature events
 *   (`<feature>.<event>`, always audited).
 * - `FeatureDatabase.transaction` may run `fn` more than once on PostgreSQL (deadlock or
 *   serialization failure, as the stores' own transactions do): keep `fn` free of outside effects.
 * - `Stores` carries the feature database (`database`) and the one-time tokens (`oneTimeTokens`);
 *   `Stores.migrate(extra)` applies feature migrations after the core's.
 * - `login` answers a gate's refusal as `{ ok: false, code, details }` (`SignInRefusal`, `details`
 *   `{}` when the gate gave none); the HTTP layer tells it from other failures by `details`.
 * - `FeatureDatabase` parameters are typed `SqlValue` (string, number, bigint, boolean, null,
 *   bytes) rather than `unknown`: node:sqlite binds nothing else (booleans become 1/0).
 * - `featureApi(core, feature)` also takes the feature object, which types the answer.
 * - The HTTP servers take `features: FeatureEntry[]` (default: the registry's list); core halves
 *   go to `createTokenstile({ features })` (default: none), as planned.
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { Logger, TokenstileConfig, TokenstileOptions } from './config.ts';
import type { RateLimits } from './rate-limits.ts';
import type { DeviceInfo, IssuedTokens } from './context.ts';
import { internals } from './core-internals.ts';
import type { AuthEvent, AuthEventListener, EventOrigin, RevocationCause } from './events.ts';
import type { RandomSource } from './ids.ts';
import type { OneTimeTokens } from './one-time-tokens.ts';
import type { PasswordHasher } from './password.ts';
import type { Revocation } from './revocation.ts';
import type { RevokeTarget } from './session-store.ts';
import type { Stores } from './stores.ts';
import type { Tokenstile } from './tokenstile.ts';
import type { UserRecord } from './user-store.ts';

/** One schema change: applied once, in order, in its own transaction. Never edit one that shipped. */
export interface Migration {
  readonly name: string;
  readonly sql: string;
}

/** A value a feature's SQL may bind: booleans are written as 1/0 on SQLite. */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array;

/**
 * SQL access for features, on the core's database. Placeholders are the dialect's own (`?` for
 * sqlite, `$1` for postgres); times are integer milliseconds (BIGINT on PostgreSQL, read back as
 * numbers). Failures of the database itself (closed, unreachable, locked past its timeout) raise
 * `StoreUnavailableError` (503), as the stores do.
 */
export interface FeatureDatabase {
  readonly dialect: 'sqlite' | 'postgres';
  /** The rows `sql` returns, as objects keyed by column name. */
  query<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; returns the number of rows it changed. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Runs `fn` in one transaction (COMMIT when it resolves, ROLLBACK when it throws), with `db` bound
   * to it: use that handle, not this one, inside. On SQLite, other requests' statements wait until
   * it ends (one shared connection); on PostgreSQL it holds one pooled connection, under READ
   * COMMITTED, and may run `fn` again after a deadlock, so `fn` must have no effect outside the
   * database. For "consume once", use one `DELETE … RETURNING` rather than a read then a write.
   * A nested call runs inside the same transaction.
   */
  transaction<T>(fn: (db: FeatureDatabase) => Promise<T>): Promise<T>;
}

/** What a sign-in gate is told: the user whose password matched, how, and from where. */
export interface SignInAttempt {
  readonly user: UserRecord;
  readonly amr: readonly string[];
  readonly device: DeviceInfo;
  /**
   * What the feature that asked (`checkSignIn`) wants back if a gate holds this sign-in and a later
   * step (the second factor) starts its session: a gate that holds sign-ins keeps it (JSON) and
   * hands it to `kit.heldSignInStarted`. Absent for `login`.
   */
  readonly carry?: SignInCarry;
}

/** A held sign-in's carried value: the feature that asked, and its JSON value (opaque to others). */
export interface SignInCarry {
  readonly feature: string;
  readonly value: unknown;
}

/** A session started by the later step of a sign-in a gate held, told to the feature that carried a value. */
export interface HeldSignInStarted {
  readonly tokens: IssuedTokens;
  readonly amr: readonly string[];
  readonly device: DeviceInfo;
  /** What the feature passed to `checkSignIn` as `carry`. */
  readonly value: unknown;
}

/** Why a gate refused a sign-in: a registered error code, and extension members for the answer. */
export interface GateRefusal {
  readonly code: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A check that `login` runs after the password matched (and the throttle counted the success),
 * before the session starts: null lets the sign-in go on, a refusal ends it. The HTTP layer answers
 * a refusal as problem+json with the code's registered status and `details` as extension members
 * (e.g. `403 mfa_required` with `mfaToken` and `methods`). Gates do not run for `startSession`.
 */
export type SignInGate = (attempt: SignInAttempt) => Promise<GateRefusal | null>;

/** What `login` answers when a gate refused: `details` is `{}` when the gate gave none. */
export interface SignInRefusal {
  readonly ok: false;
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * Told of the sessions a revocation ended (`FeatureKit.onRevoked`), with its cause and origin:
 * awaited before the revocation answers, so what it writes durably is there when logout returns.
 * A throw fails the revocation's caller (the sessions stay ended): write, do not deliver, here.
 */
export type RevokedListener = (ended: readonly Revocation[], cause: RevocationCause, origin: EventOrigin) => Promise<void>;

/** What a feature's core half may use (internal: the package does not export it). */
export interface FeatureKit {
  /** The core being opened (its public methods work once `createTokenstile` has resolved). */
  readonly core: Tokenstile;
  readonly config: TokenstileConfig;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly hasher: PasswordHasher;
  readonly logger: Logger | undefined;
  /** Reports an event (audited when it is a feature event, `<feature>.<event>`). */
  emit(event: AuthEvent): void;
  /** The feature's SQL handle on the core's database. */
  readonly db: FeatureDatabase;
  readonly stores: Stores;
  /** Ends sessions everywhere, acknowledged by every instance before it resolves (the path of logout). */
  revoke(target: RevokeTarget, cause: RevocationCause, origin?: EventOrigin): Promise<Revocation[]>;
  /** Drops what is cached for a user (or one session): after a change `/auth/me` must show at once. */
  dropCache(userId: string, sessionId?: string): Promise<void>;
  /**
   * Starts a session for a user already read (the same as `core.startSession`, without its checks):
   * null when the user's credentials changed or the account was disabled since it was read.
   */
  startSession(user: UserRecord, amr: readonly string[], device: DeviceInfo): Promise<IssuedTokens | null>;
  readonly oneTimeTokens: OneTimeTokens;
  /**
   * The key-encryption key (`keyEncryptionKey`, 32 bytes) when one is set, else null: seal a
   * feature's secrets at rest with it (`sealValue` / `openSealed` of key-encryption.ts).
   */
  readonly keyEncryptionKey: Buffer | null;
  /** Adds a check to `login` (see `SignInGate`); gates run in the order they were added. */
  addSignInGate(gate: SignInGate): void;
  /** Adds work to the purge timer (expired rows of the feature's tables); `now` in ms. */
  addPurge(fn: (now: number) => Promise<unknown>): void;
  /** Adds work to `core.close()`, run in reverse order of adding. */
  onClose(fn: () => Promise<void> | void): void;
  /** The options the core was opened with: a feature reads its own block (`options.recovery`…) and checks it in `setup`. */
  readonly options: Readonly<TokenstileOptions>;
  /** The core's rate limits (shared through Redis when the core's are), for a feature's rules in `RateLimitOptions`. */
  readonly limits: RateLimits;
  /**
   * Runs the sign-in gates as `login` does, for a sign-in by other means (a mailed link…) that
   * must not skip them (a second factor): null, or the first refusal.
   */
  checkSignIn(attempt: Omit<SignInAttempt, 'carry'>, carry?: unknown): Promise<GateRefusal | null>;
  /**
   * Tells `listener` of each session started by the later step of a sign-in that a gate held, when
   * this feature passed a `carry` to `checkSignIn` (a provider sign-in's origin, for back-channel
   * logout): awaited before that step answers. One listener per feature.
   */
  onHeldSignInStarted(listener: (started: HeldSignInStarted) => Promise<void>): void;
  /**
   * For a gate that holds sign-ins: its later step started a session for a sign-in whose attempt
   * had `carry`; the feature that carried it is told (`onHeldSignInStarted`). Nothing without one.
   */
  heldSignInStarted(carry: SignInCarry | null | undefined, started: Omit<HeldSignInStarted, 'value'>): Promise<void>;
  /**
   * Adds work awaited by every revocation (every path: logout, password change, admin…), once per
   * revocation, with the sessions it ended; none when it ended none. See `RevokedListener`.
   */
  onRevoked(listener: RevokedListener): void;
  /** The key that signs access tokens now (its `kid` is in `/.well-known/jwks.json`), for a feature's own JWTs. */
  signingKey(): { readonly kid: string; readonly alg: string; readonly key: KeyObject };
  /** Tells `listener` of every event the core reports (a sign-up, a sign-in…), after the host's `onEvent`; it must not throw or block. */
  onEvent(listener: AuthEventListener): void;
  /**
   * Adds a way to sign in that the feature brings (passkeys, linked providers), named by the
   * feature: `count` tells how many of them a user has.
   */
  addSignInMethod(name: string, count: (userId: string) => Promise<number>): void;
  /**
   * How many ways a user has to sign in: a password counts one, then every feature's
   * (`addSignInMethod`) but `except`'s. Before removing its last one of a user, a feature asks for
   * the others (`last_sign_in_method` when there are none). Not atomic across features: two
   * removals racing on one account may both pass (a support reset is the way back).
   */
  signInMethods(userId: string, except?: string): Promise<number>;
}

/**
 * The core half of a feature. `createTokenstile({ features })` applies its migrations (after the
 * core's, each once, recorded as `<feature>/<name>`) and calls `setup` once; what `setup` returns
 * is `featureApi(core, feature)`.
 *
 * @example
 * export const notesFeature: CoreFeature<NotesApi> = {
 *   name: 'notes',
 *   migrations: { sqlite: [{ name: '0001_notes', sql: 'CREATE TABLE notes (…) STRICT' }], postgres: […] },
 *   setup: (kit) => new NotesApi(kit.db, kit.clock),
 * };
 */
export interface CoreFeature<Api = unknown> {
  /** Lower-case letters, digits and `-`; unique among the features of a core. */
  readonly name: string;
  readonly migrations?: { readonly sqlite: readonly Migration[]; readonly postgres: readonly Migration[] };
  setup?(kit: FeatureKit): Api | Promise<Api>;
}

const featureName = /^[a-z][a-z0-9-]{0,39}$/;

/** Checks the features' names (pattern, uniqueness) and their migrations' names; throws a TypeError. */
export function checkFeatures(features: readonly CoreFeature[]): void {
  const seen = new Set<string>();
  for (const f of features) {
    if (!featureName.test(f.name)) throw new TypeError(`feature name ${JSON.stringify(f.name)}: lower-case letters, digits and -, at most 40`);
    if (seen.has(f.name)) throw new TypeError(`feature ${f.name} is listed twice`);
    seen.add(f.name);
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const names = (f.migrations?.[dialect] ?? []).map((m) => m.name);
      if (new Set(names).size !== names.length) throw new TypeError(`feature ${f.name}: two ${dialect} migrations share a name`);
    }
  }
}

/** The features' migrations for `dialect`, in order, each named `<feature>/<name>`. */
export function featureMigrations(features: readonly CoreFeature[], dialect: FeatureDatabase['dialect']): Migration[] {
  return features.flatMap((f) => (f.migrations?.[dialect] ?? []).map((m) => ({ name: `${f.name}/${m.name}`, sql: m.sql })));
}

/**
 * What a feature's `setup` returned on `core`. Throws a TypeError when the core was opened without
 * that feature.
 *
 * @example
 * const notes = featureApi(core, notesFeature); // typed as NotesApi
 */
export function featureApi<Api>(core: Tokenstile, feature: CoreFeature<Api>): Api;
export function featureApi<Api = unknown>(core: Tokenstile, name: string): Api;
export function featureApi(core: Tokenstile, feature: CoreFeature | string): unknown {
  const name = typeof feature === 'string' ? feature : feature.name;
  const apis = internals(core).features;
  if (!apis.has(name)) throw new TypeError(`featureApi(): the core was opened without the feature ${name}`);
  return apis.get(name);
}
