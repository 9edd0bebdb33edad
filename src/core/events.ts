/**
 * What happened, as the core reports it to observers (metrics, logs, later an audit trail).
 * Never carries a token, password or secret.
 */
export type AuthEvent =
  | { readonly type: 'login_succeeded'; readonly userId: string; readonly sessionId: string }
  | { readonly type: 'login_failed'; readonly reason: 'invalid_credentials' | 'account_disabled' | 'too_many_requests' }
  | { readonly type: 'registered'; readonly userId: string }
  | { readonly type: 'refreshed'; readonly sessionId: string }
  | { readonly type: 'refresh_failed'; readonly reason: 'invalid_refresh_token' | 'too_many_requests' }
  | { readonly type: 'refresh_reuse_detected'; readonly userId: string; readonly sessionId: string }
  | { readonly type: 'sessions_revoked'; readonly count: number }
  | { readonly type: 'revocations_received'; readonly count: number; readonly lagMs: number }
  | { readonly type: 'feed_health'; readonly healthy: boolean }
  | { readonly type: 'store_check'; readonly outcome: 'live' | 'revoked' | 'unavailable' }
  | { readonly type: 'rate_limited'; readonly rule: string };

/** Receives events; must not throw (errors are swallowed) and should not block. */
export type AuthEventListener = (event: AuthEvent) => void;
