import { errorMessages, type ErrorCode } from '../core/errors.ts';

/** HTTP status of each error code; the HTTP layer and the verify SDK answer with it. */
export const statusOf: Readonly<Record<ErrorCode, number>> = Object.freeze({
  invalid_request: 400,
  weak_password: 400,
  invalid_credentials: 401,
  invalid_client: 401,
  account_disabled: 403,
  invalid_token: 401,
  token_expired: 401,
  session_revoked: 401,
  invalid_refresh_token: 401,
  refresh_token_reused: 401,
  csrf_failed: 403,
  not_found: 404,
  method_not_allowed: 405,
  email_taken: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  service_unavailable: 503,
  invalid_config: 500,
  internal_error: 500,
});

const accessTokenCodes = new Set<ErrorCode>(['invalid_token', 'token_expired', 'session_revoked']);

/** The `content-type` of every error answer. */
export const problemContentType = 'application/problem+json; charset=utf-8';

/** The RFC 9457 body Tokenstile sends for every error. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  /** With `invalid_request`: the request field at fault (`email`, `session.id`), when one is. */
  field?: string;
}

/** The problem details for `code`; `detail` defaults to the code's standard message. */
export function problem(code: ErrorCode, detail?: string, field?: string): Problem {
  const body: Problem = { type: `urn:tokenstile:error:${code}`, title: errorMessages[code], status: statusOf[code], code, detail: detail ?? errorMessages[code] };
  if (field !== undefined) body.field = field;
  return body;
}

/**
 * The `WWW-Authenticate` challenge of a 401 with `code`: RFC 6750 Bearer with
 * `error="invalid_token"` for a bad access token, without an error code when no token was sent
 * (RFC 6750 §3.1), and RFC 6749 §5.2 `Basic` for failed client authentication.
 */
export function challengeFor(code: ErrorCode, tokenMissing: boolean): string {
  if (code === 'invalid_client') return 'Basic realm="tokenstile", charset="UTF-8"';
  return accessTokenCodes.has(code) && !tokenMissing
    ? `Bearer realm="tokenstile", error="invalid_token", error_description="${errorMessages[code]}"`
    : 'Bearer realm="tokenstile"';
}
