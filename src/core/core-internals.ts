import type { CsrfTokens } from './csrf-tokens.ts';
import type { DpopPolicy } from './dpop.ts';
import type { OneTimeTokens } from './one-time-tokens.ts';
import type { Stores } from './stores.ts';
import type { Tokenstile } from './tokenstile.ts';

/** A revocation as the in-memory list holds it: the session id, and when its tokens expire. */
export interface LiveRevocation {
  readonly id: string;
  readonly expiresAt: number;
}

/**
 * What Tokenstile's own HTTP layer, CLI and tests need from a core beyond its public methods:
 * the raw stores, maintenance and the revocation stream's internals. Not exported from the
 * package entry point; reach it with {@link internals}. Nothing here is a supported API.
 */
export interface CoreInternals {
  /** The stores the core was opened on. */
  readonly stores: Stores;
  /** Anti-forgery tokens of browser (cookie) sessions, derived from a stored server secret. */
  readonly csrf: CsrfTokens;
  /**
   * One round of the background work that otherwise runs every `revocationPollInterval`: read new
   * revocations from the store, and purge when `purgeInterval` has passed. For tests that drive time.
   */
  tick(): void;
  /** Reads revocations made by other processes now (it also happens every poll interval). */
  syncRevocations(): Promise<void>;
  /** The live entries of the in-memory revocation list (the revocation stream's snapshot). */
  liveRevocations(): LiveRevocation[];
  /**
   * Told of every revocation that enters the in-memory list from now on, once each (and with an
   * empty array when known ones arrive again); returns the unsubscribe function. A returned
   * promise holds this instance's confirmation of those revocations (to the revoker and to the
   * feed) until it settles: see `holdForVerifiers`.
   */
  onRevocations(listener: (revocations: ReadonlyArray<LiveRevocation>) => void | Promise<void>): () => void;
  /**
   * Declares that this instance grants acknowledging verifiers leases of `leaseMs` and holds its
   * confirmations for them (the revocation stream calls it): other instances are told to wait
   * that much longer for this one, and unconfirmed revocations wait it out.
   */
  holdForVerifiers(leaseMs: number): void;
  /** The session id a refresh token we issued names (MAC checked), or null; spends nothing. */
  refreshTokenSession(refreshToken: unknown): string | null;
  /** What each feature's `setup` returned, by feature name (see `featureApi`). */
  readonly features: ReadonlyMap<string, unknown>;
  /** The core's one-time tokens (the same as every feature's `kit.oneTimeTokens`). */
  readonly oneTimeTokens: OneTimeTokens;
  /** The DPoP policy: sign-in and resource proofs, nonces (RFC 9449). */
  readonly dpop: DpopPolicy;
}

const handles = new WeakMap<Tokenstile, CoreInternals>();

/** Records the internals of a core; `createTokenstile` calls it once per core. */
export function attachInternals(core: Tokenstile, handle: CoreInternals): void {
  handles.set(core, handle);
}

/** The internals of a core made by `createTokenstile`; throws a `TypeError` for any other object. */
export function internals(core: Tokenstile): CoreInternals {
  const handle = handles.get(core);
  if (handle === undefined) throw new TypeError('internals(): not a core made by createTokenstile');
  return handle;
}
