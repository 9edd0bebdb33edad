import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TokenstileError, type ErrorCode } from '../core/errors.ts';
import { sendProblem } from './problem.ts';
import { fieldProblem } from './validation-problem.ts';

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
