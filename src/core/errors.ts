/**
 * Every failure Tokenstile reports has a stable string `code`. Core functions return expected
 * failures as values (`{ ok: false, code }`); the HTTP layer and the SDKs turn a code into one of
 * the error classes below. Messages never contain a token, password or secret.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'weak_password'
  | 'invalid_credentials'
  | 'invalid_client'
  | 'account_disabled'
  | 'invalid_token'
  | 'token_expired'
  | 'session_revoked'
  | 'invalid_refresh_token'
  | 'refresh_token_reused'
  | 'csrf_failed'
  | 'not_found'
  | 'method_not_allowed'
  | 'email_taken'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'too_many_requests'
  | 'service_unavailable'
  | 'invalid_config'
  | 'internal_error';

/** A success carrying `value`, or an expected failure carrying its code. */
export type Result<T, C extends ErrorCode = ErrorCode> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: C; readonly retryAfterMs?: number; readonly field?: string; readonly reason?: string };

/** A success. */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/** An expected failure; `retryAfterMs` with `too_many_requests` and `service_unavailable`. */
export function fail<C extends ErrorCode>(code: C, retryAfterMs?: number): { readonly ok: false; readonly code: C; readonly retryAfterMs?: number } {
  return retryAfterMs === undefined ? { ok: false, code } : { ok: false, code, retryAfterMs };
}

/**
 * An `invalid_request` failure that names the input at fault and why (a phrase completing
 * "`field` …", never repeating the value), e.g. `invalid('email', 'is not a valid email address')`.
 */
export function invalid(field: string, reason: string): { readonly ok: false; readonly code: 'invalid_request'; readonly field: string; readonly reason: string } {
  return { ok: false, code: 'invalid_request', field, reason };
}

/** Base class of every error Tokenstile throws. */
export class TokenstileError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Startup configuration is invalid; thrown once, before anything is served. */
export class ConfigError extends TokenstileError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_config', message, options);
  }
}

/**
 * A store could not be reached or used (database closed, connection refused or reset, pool
 * timeout, locked past its busy timeout): HTTP 503. Every store Tokenstile ships raises it for
 * connection-level failures, with the driver's error as `cause` and none of its text in the
 * message; constraint violations and programming errors are thrown as they are.
 */
export class StoreUnavailableError extends TokenstileError {
  /** `operation` names the store method, such as `sessions.rotate`. */
  constructor(operation: string, options?: { cause?: unknown }) {
    super('service_unavailable', `The store failed during ${operation}; retry later.`, options);
  }
}

/** Human-readable default messages, one per code (safe to show to end users). */
export const errorMessages: Readonly<Record<ErrorCode, string>> = Object.freeze({
  invalid_request: 'The request is malformed.',
  weak_password:
    'The password does not meet the policy: 8 to 256 characters, not all of one kind (letters, digits, symbols).',
  invalid_credentials: 'The email or password is wrong.',
  account_disabled: 'This account is disabled.',
  invalid_client: 'Client authentication failed.',
  invalid_token: 'The access token is missing, malformed or not valid here.',
  token_expired: 'The access token has expired; refresh it.',
  session_revoked: 'The session of this token has ended; sign in again.',
  invalid_refresh_token: 'The refresh token is unknown, expired or revoked.',
  refresh_token_reused: 'A spent refresh token was presented again; the whole session has been revoked.',
  csrf_failed: 'The CSRF check failed.',
  not_found: 'Not found.',
  method_not_allowed: 'Method not allowed.',
  email_taken: 'An account with this email already exists.',
  payload_too_large: 'The request body is too large.',
  unsupported_media_type: 'The request body must be application/json.',
  too_many_requests: 'Too many requests; retry later.',
  service_unavailable: 'A store Tokenstile depends on is unavailable; retry later.',
  invalid_config: 'The server is misconfigured.',
  internal_error: 'An internal error occurred.',
});
