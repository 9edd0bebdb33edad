/** Where a request came from, as recorded with events that a person caused. */
export interface EventOrigin {
  readonly ip?: string | null;
  readonly userAgent?: string | null;
}

/**
 * What happened, as the core reports it to observers (metrics, logs, the audit log). Never
 * carries a token, password, hash or secret.
 */
export type AuthEvent =
  | ({ readonly type: 'login_succeeded'; readonly userId: string; readonly sessionId: string } & EventOrigin)
  /** The password matched but a feature's sign-in gate refused (`code`: a second factor is needed, the email is not verified…). */
  | ({ readonly type: 'login_refused'; readonly userId: string; readonly code: string } & EventOrigin)
  | ({ readonly type: 'login_failed'; readonly reason: 'invalid_credentials' | 'account_disabled'; readonly account: string; readonly userId?: string | undefined } & EventOrigin)
  | ({ readonly type: 'password_change_failed'; readonly userId: string; readonly sessionId: string } & EventOrigin)
  | ({ readonly type: 'registered'; readonly userId: string } & EventOrigin)
  /** The host app created a user without a password (`createUser`). */
  | { readonly type: 'user_created'; readonly userId: string }
  /** The host app started a session for a user it signed in itself (`startSession`); `amr` space-separated (RFC 8176). */
  | ({ readonly type: 'session_started'; readonly userId: string; readonly sessionId: string; readonly amr: string } & EventOrigin)
  | { readonly type: 'refreshed'; readonly sessionId: string }
  | { readonly type: 'refresh_failed'; readonly reason: 'invalid_refresh_token' | 'too_many_requests' | 'invalid_dpop_proof' }
  /** A spent refresh token came back (the session is revoked); `reason` when it came within the grace window from another client. */
  | ({ readonly type: 'refresh_reuse_detected'; readonly userId: string; readonly sessionId: string; readonly reason?: 'grace_retry_from_another_client' } & EventOrigin)
  /** A retry with the just-spent refresh token, inside the grace window, from the client that spent it: answered with the same successor. */
  | ({ readonly type: 'refresh_grace_retry'; readonly userId: string; readonly sessionId: string } & EventOrigin)
  | ({ readonly type: 'logged_out'; readonly userId: string; readonly sessionId: string; readonly scope: 'local' | 'global' | 'others' } & EventOrigin)
  | ({ readonly type: 'session_revoked'; readonly userId: string; readonly sessionId: string; readonly cause: RevocationCause } & EventOrigin)
  | ({ readonly type: 'password_changed'; readonly userId: string; readonly sessionId: string } & EventOrigin)
  | { readonly type: 'user_disabled'; readonly userId: string }
  | { readonly type: 'key_generated'; readonly kid: string; readonly alg: string }
  /**
   * A rotation: `kid` is published now and signs from `signsFrom` (ISO time); `previousKid` retires
   * then. `replaced`: pending keys (comma-separated) that a forced rotation removed before they signed.
   */
  | { readonly type: 'key_rotated'; readonly kid: string; readonly previousKid: string; readonly alg: string; readonly signsFrom: string; readonly replaced?: string }
  /** A key revoked as compromised: unpublished at once; `sessionsEnded` sessions that may hold its tokens were ended. */
  | { readonly type: 'key_revoked'; readonly kid: string; readonly alg: string; readonly sessionsEnded: number; readonly signingKid: string }
  | { readonly type: 'revocations_received'; readonly count: number; readonly lagMs: number }
  | { readonly type: 'feed_health'; readonly healthy: boolean }
  /** A revocation published by this instance is in every live instance's list (or their leases ran out), `ms` after its commit. */
  | { readonly type: 'revocation_confirmed'; readonly ms: number }
  | { readonly type: 'store_check'; readonly outcome: 'live' | 'revoked' | 'unavailable' }
  | { readonly type: 'rate_limited'; readonly rule: string }
  /** A DPoP proof was refused at sign-in or refresh (`sign_in`) or on a protected request (`resource`): a metric, not audited (anyone can send one). */
  | { readonly type: 'dpop_proof_refused'; readonly where: 'sign_in' | 'resource'; readonly code: 'invalid_dpop_proof' | 'use_dpop_nonce' | 'service_unavailable' }
  | FeatureEvent;

/**
 * An event a feature reports (`FeatureKit.emit`), always written to the audit trail: `type` is
 * `<feature>.<event>` (e.g. `recovery.reset_requested`), `userId`, `sessionId`, `ip` and
 * `userAgent` go to their columns and every other member to the entry's detail. Never a secret.
 */
export interface FeatureEvent {
  readonly type: `${string}.${string}`;
  readonly userId?: string | null;
  readonly sessionId?: string | null;
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  readonly [detail: string]: string | number | boolean | null | undefined;
}

/** Why a session ended. */
export type RevocationCause =
  | 'logout' | 'token_revoked' | 'logout_global' | 'logout_others' | 'revoked_by_user' | 'password_change' | 'refresh_reuse' | 'user_disabled' | 'admin' | 'key_revoked'
  /** A feature's own cause (`password_reset`, `backchannel_logout`…): a short snake_case word. */
  | (string & {});

/** Receives events; must not throw (errors are swallowed) and should not block. */
export type AuthEventListener = (event: AuthEvent) => void;
