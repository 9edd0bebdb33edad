import type { DeviceInfo, IssuedTokens } from '../../core/context.ts';
import type { Result } from '../../core/errors.ts';
import type { FeatureEvent } from '../../core/events.ts';
import type { GateRefusal } from '../../core/feature.ts';
import type { RandomSource } from '../../core/ids.ts';
import type { Logger } from '../../core/config.ts';
import type { UserRecord } from '../../core/user-store.ts';
import type { ProviderClient } from './provider-client.ts';
import type { SocialStore } from './social-store.ts';

/** A provider sign-in's origin, carried through a sign-in gate (`mfa_required`) to the session its second step starts. */
export interface HeldOrigin {
  readonly provider: string;
  readonly subject: string;
  readonly sid: string | null;
}

/** The foundation's single-use tokens (`kit.oneTimeTokens`), as this feature uses them. */
export interface SingleUseTokens {
  issue(input: { purpose: string; userId: string | null; subject?: string; data?: unknown; ttlMs: number; replace?: boolean }): Promise<string>;
  consume(purpose: string, token: string): Promise<{ userId: string | null; subject: string | null; data: unknown; expiresAt: number } | null>;
}

/**
 * What the social feature's core needs from Tokenstile, in its own words; `social-feature.ts` makes
 * it from the feature kit. Nothing here ends a session except `endSessions`, which is the kit's
 * acknowledged `revoke`.
 */
export interface SocialDeps {
  readonly providers: readonly ProviderClient[];
  readonly store: SocialStore;
  readonly tokens: SingleUseTokens;
  readonly now: () => number;
  readonly random: RandomSource;
  /** The absolute session lifetime (ms): how long a session's provider origin is kept. */
  readonly sessionLifetimeMs: number;
  /** Leeway for `iat`/`exp` of logout tokens, in seconds. */
  readonly clockToleranceSeconds: number;
  readonly logger?: Logger | undefined;
  /** Reports a feature event (`social.<event>`), written to the audit trail. Never a token. */
  emit(event: FeatureEvent): void;
  userById(id: string): Promise<UserRecord | null>;
  /** By email (normalized here); null when none. */
  userByEmail(email: string): Promise<UserRecord | null>;
  /** A user without a password; its email marked verified now when `emailVerified`. */
  createUser(input: { email: string; name: string | null; emailVerified: boolean }): Promise<UserRecord | 'email_taken' | 'invalid_email'>;
  /**
   * Counts a sign-in start from this client (by IP); `too_many_requests` with the wait when over
   * the limit. Each start writes a flow record that lives 10 minutes, and anyone may start one.
   */
  limitStart(device: DeviceInfo): Promise<Result<void, 'too_many_requests'>>;
  /** True when the user can sign in with a password. */
  hasPassword(userId: string): Promise<boolean>;
  /** True when the user has a way to sign in besides linked providers (a password, a passkey). */
  signsInOtherwise(userId: string): Promise<boolean>;
  /** Sets a live session's `auth_time` (a re-authentication); false when it has ended. */
  setAuthTime(sessionId: string, at: number): Promise<boolean>;
  /** True while session `sessionId` of `userId` is live (not ended, not expired). */
  sessionLive(userId: string, sessionId: string): Promise<boolean>;
  /**
   * The kit's sign-in gates (`checkSignIn`), run before a session starts as for a password: a
   * user with a second factor gets `mfa_required` (with `mfaToken` and `methods`), an unverified
   * address `email_not_verified` when verified ones are required. Null lets the sign-in go on.
   */
  checkSignIn(user: UserRecord, amr: readonly string[], device: DeviceInfo, origin: HeldOrigin): Promise<GateRefusal | null>;
  /** The kit's `startSession`: null when the user may not sign in (disabled, credentials changed). */
  startSession(user: UserRecord, amr: readonly string[], device: DeviceInfo): Promise<IssuedTokens | null>;
  /** Ends these sessions through the kit's `revoke`: resolves once every instance refuses them. Returns how many ended. */
  endSessions(sessionIds: readonly string[], device: DeviceInfo): Promise<number>;
}
