import { errorRegistry, type RegisteredCode } from '../protocol/error-registry.ts';

/**
 * Every failure Tokenstile reports has a stable string `code`. Core functions return expected
 * failures as values (`{ ok: false, code }`); the HTTP layer and the SDKs turn a code into one of
 * the error classes below. Messages never contain a token, password or secret.
 */
export type ErrorCode = RegisteredCode;

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

/**
 * Human-readable default messages, one per code (safe to show to end users), from the code sets
 * the features declare.
 */
export const errorMessages: Readonly<Record<ErrorCode, string>> = Object.freeze(
  Object.fromEntries(Object.entries(errorRegistry).map(([code, spec]) => [code, spec.title])) as Record<ErrorCode, string>,
);
