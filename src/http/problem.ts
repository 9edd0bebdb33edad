import { errorMessages, type ErrorCode } from '../core/errors.ts';

/** The part of a reply `sendProblem` writes to: Tokenstile's neutral reply and Fastify's both fit. */
export interface ProblemReply {
  code(status: number): unknown;
  header(name: string, value: string): unknown;
  type(contentType: string): unknown;
  send(body?: unknown): unknown;
}

/** HTTP status of each error code; the HTTP layer is the only place that knows it. */
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

/** The `sendProblem` options of a core failure: its retry delay, and the field it names. */
export function failureDetails(failure: { readonly retryAfterMs?: number | undefined; readonly field?: string | undefined; readonly reason?: string | undefined }): {
  retryAfterMs?: number | undefined;
  field?: string | undefined;
  detail?: string | undefined;
} {
  return {
    retryAfterMs: failure.retryAfterMs,
    ...(failure.field !== undefined && { field: failure.field, detail: `${failure.field} ${failure.reason ?? 'is not valid'}.` }),
  };
}

/**
 * Sends a problem+json answer. 401s carry an RFC 6750 challenge: with `error="invalid_token"`
 * for a bad access token, and without an error code when no token was sent at all (RFC 6750 §3.1).
 */
export function sendProblem<R extends ProblemReply>(
  reply: R,
  code: ErrorCode,
  options: { detail?: string | undefined; field?: string | undefined; tokenMissing?: boolean; retryAfterMs?: number | undefined } = {},
): R {
  const body: Problem = problem(code, options.detail, options.field);
  if (options.retryAfterMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(options.retryAfterMs / 1000))));
  if (body.status === 401) reply.header('www-authenticate', challengeFor(code, options.tokenMissing === true));
  // RFC 6749 §5.2 clients read `error`; the problem document carries it as an extension member.
  const sent = code === 'invalid_client' ? { ...body, error: 'invalid_client', error_description: body.detail } : body;
  reply.code(body.status);
  reply.header('cache-control', 'no-store');
  reply.type(problemContentType);
  reply.send(sent);
  return reply;
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

