import type { AccessTokenVerifier } from './access-tokens.ts';
import type { Clock } from './clock.ts';
import type { Logger, TokenstileConfig } from './config.ts';
import type { AuthEvent, EventOrigin, RevocationCause } from './events.ts';
import type { RateLimits } from './rate-limits.ts';
import type { SessionCache } from './session-cache.ts';
import type { RandomSource } from './ids.ts';
import type { Keyring } from './keys.ts';
import type { DeviceProofs } from './device-proofs.ts';
import type { PasswordHasher } from './password.ts';
import type { OpaqueTokenCodec } from './opaque-tokens.ts';
import type { RefreshTokenCodec } from './refresh-tokens.ts';
import type { Revocation } from './revocation.ts';
import type { RevokeTarget } from './session-store.ts';
import type { Stores } from './stores.ts';
import type { SignInGate } from './feature.ts';

/** What the core's operations share. Internal. */
export interface CoreContext {
  readonly config: TokenstileConfig;
  readonly stores: Stores;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly hasher: PasswordHasher;
  /** The current keys; replaced when a rotation is picked up (read it each time, do not keep it). */
  readonly keyring: Keyring;
  readonly codec: RefreshTokenCodec;
  /** Mints and reads opaque access handles; null in JWT format. */
  readonly opaque: OpaqueTokenCodec | null;
  readonly verifier: AccessTokenVerifier;
  readonly limits: RateLimits;
  /** Proofs that a device signed in to an account before, for the sign-in throttle. */
  readonly devices: DeviceProofs;
  readonly cache: SessionCache;
  readonly logger: Logger | undefined;
  /** A hash of a random password, verified against when the email is unknown (equal timing). */
  readonly dummyHash: Promise<string>;
  /**
   * Ends sessions in the store, in memory and on every instance, drops their cache, and records
   * why. Resolves once no instance can still accept the sessions' tokens (`RevocationSync.revoke`).
   */
  revoke(target: RevokeTarget, cause: RevocationCause, origin?: EventOrigin): Promise<Revocation[]>;
  /** Reports an event to the observers. */
  emit(event: AuthEvent): void;
  /** Drops a cache scope, bounded in time; on failure the cache is bypassed here until the drop is redone (`CacheGuard`). */
  dropCache(userId: string, sessionId?: string): Promise<void>;
  /** The features' sign-in gates, run by `login` in order (see `SignInGate`). */
  readonly signInGates: readonly SignInGate[];
}

/** A user as shown to clients. */
export interface PublicUser {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  /** The user proved they receive mail at `email`. */
  readonly emailVerified: boolean;
}

/** Who made a request: the device's user agent and IP, kept on the session and in the audit log. */
export interface DeviceInfo {
  readonly userAgent?: string | null;
  readonly ip?: string | null;
  /** The device proof it presented (the device cookie), if any; checked, never stored or logged. */
  readonly deviceProof?: string | null;
  /**
   * The thumbprint of the DPoP key the request proved possession of (RFC 9449), checked by the
   * HTTP layer: a session started with it is bound to that key; a refresh must match its session's.
   */
  readonly dpopJkt?: string | null;
}

/** The origin fields of an event, from a device. */
export function originOf(device: DeviceInfo): EventOrigin {
  return { ip: device.ip ?? null, userAgent: device.userAgent ?? null };
}

/** What login and refresh hand out. Durations in seconds. */
export interface IssuedTokens {
  /** `DPoP` when the tokens are bound to a key (RFC 9449 §5), else `Bearer`. */
  readonly tokenType: 'Bearer' | 'DPoP';
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly refreshToken: string;
  readonly refreshExpiresIn: number;
  readonly session: { readonly id: string };
  readonly user: PublicUser;
}

/** The fields of a user that clients may see. */
export function publicUser(u: { id: string; email: string; name: string | null; emailVerifiedAt: number | null }): PublicUser {
  return { id: u.id, email: u.email, name: u.name, emailVerified: u.emailVerifiedAt !== null };
}
