import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessages, TokenstileError, type ErrorCode } from '../core/errors.ts';
import { fieldProblem } from './validation-problem.ts';

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
export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  options: { detail?: string | undefined; field?: string | undefined; tokenMissing?: boolean; retryAfterMs?: number | undefined } = {},
): FastifyReply {
  const body: Problem = problem(code, options.detail, options.field);
  if (options.retryAfterMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(options.retryAfterMs / 1000))));
  if (body.status === 401) reply.header('www-authenticate', challengeFor(code, options.tokenMissing === true));
  // RFC 6749 §5.2 clients read `error`; the problem document carries it as an extension member.
  const sent = code === 'invalid_client' ? { ...body, error: 'invalid_client', error_description: body.detail } : body;
  return reply.code(body.status).header('cache-control', 'no-store').type(problemContentType).send(sent);
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

function fastifyErrorCode(err: FastifyError): ErrorCode {
  if (err.validation) return 'invalid_request';
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'payload_too_large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type';
    default:
      break;
  }
  const status = err.statusCode ?? 500;
  if (status === 404) return 'not_found';
  if (status === 405) return 'method_not_allowed';
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'too_many_requests';
  if (status >= 400 && status < 500) return 'invalid_request';
  return 'internal_error';
}

/**
 * Error handler for Tokenstile's routes: coded errors map to their status, framework errors to
 * the nearest code, anything else to a 500 whose body says nothing about the cause.
 */
export function problemErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof TokenstileError) {
    if (err.code === 'service_unavailable') request.log.warn({ err: { message: err.message, cause: (err.cause as Error | undefined)?.message } }, 'tokenstile: store unavailable');
    return sendProblem(reply, err.code, { detail: err.message, retryAfterMs: err.code === 'service_unavailable' ? 1000 : undefined });
  }
  const code = fastifyErrorCode(err);
  if (code === 'internal_error') {
    request.log.error({ err: { type: err.name, message: err.message, code: err.code } }, 'tokenstile: unexpected error');
    return sendProblem(reply, code);
  }
  // Schema failures name the field and the reason, never the value; parser messages say what was wrong.
  if (err.validation) return sendProblem(reply, code, fieldProblem(err.validation, err.validationContext));
  return sendProblem(reply, code, { detail: code === 'invalid_request' ? err.message : undefined });
}
