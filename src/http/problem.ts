import type { ErrorCode } from '../core/errors.ts';
import { challengeFor, problem, problemContentType, type Problem } from '../protocol/problem-details.ts';

// The wire formats live in src/protocol, shared with the verify SDK.
export { challengeFor, problem, problemContentType, statusOf, type Problem } from '../protocol/problem-details.ts';

/** The part of a reply `sendProblem` writes to: Tokenstile's neutral reply and Fastify's both fit. */
export interface ProblemReply {
  code(status: number): unknown;
  header(name: string, value: string): unknown;
  type(contentType: string): unknown;
  send(body?: unknown): unknown;
}

/** The `sendProblem` options of a core failure: its retry delay, and the field it names. */
export function failureDetails(failure: { readonly retryAfterMs?: number | undefined; readonly field?: string | undefined; readonly reason?: string | undefined }): {
  retryAfterMs?: number | undefined;
  field?: string | undefined;
  detail?: string | undefined;
  extensions?: Readonly<Record<string, unknown>> | undefined;
} {
  return {
    retryAfterMs: failure.retryAfterMs,
    ...(failure.field !== undefined && { field: failure.field, detail: `${failure.field} ${failure.reason ?? 'is not valid'}.` }),
    // A reason without a field (a weak password: why it is weak) is the detail, and a member of its own.
    ...(failure.field === undefined && failure.reason !== undefined && { detail: failure.reason, extensions: { reason: failure.reason } }),
  };
}

/**
 * Sends a problem+json answer. 401s carry an RFC 6750 challenge: with `error="invalid_token"`
 * for a bad access token, and without an error code when no token was sent at all (RFC 6750 §3.1).
 */
export function sendProblem<R extends ProblemReply>(
  reply: R,
  code: ErrorCode,
  options: {
    detail?: string | undefined;
    field?: string | undefined;
    tokenMissing?: boolean;
    retryAfterMs?: number | undefined;
    /** RFC 9457 extension members (e.g. `mfaToken`); they never replace a standard member. */
    extensions?: Readonly<Record<string, unknown>> | undefined;
    /** Another status than the code's own: the DPoP codes are 400 at sign-in and 401 on protected routes (RFC 9449). */
    status?: number | undefined;
    /** The `WWW-Authenticate` value of a 401, instead of the Bearer one (the DPoP scheme's). */
    challenge?: string | undefined;
  } = {},
): R {
  const registered: Problem = problem(code, options.detail, options.field);
  const standard: Problem = options.status === undefined ? registered : { ...registered, status: options.status };
  const body: Problem = options.extensions === undefined ? standard : { ...withoutStandardMembers(options.extensions), ...standard };
  if (options.retryAfterMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(options.retryAfterMs / 1000))));
  if (body.status === 401) reply.header('www-authenticate', options.challenge ?? challengeFor(code, options.tokenMissing === true));
  // RFC 6749 §5.2 clients read `error`; the problem document carries it as an extension member.
  const sent = code === 'invalid_client' ? { ...body, error: 'invalid_client', error_description: body.detail } : body;
  reply.code(body.status);
  reply.header('cache-control', 'no-store');
  reply.type(problemContentType);
  reply.send(sent);
  return reply;
}

const standardMembers = new Set(['type', 'title', 'status', 'code', 'detail', 'field', 'instance']);

function withoutStandardMembers(extensions: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(extensions).filter(([name]) => !standardMembers.has(name)));
}

/**
 * Answers a sign-in gate's refusal (`SignInRefusal`): problem+json with the status its code was
 * registered with (every mounted feature's codes are), and `details` as extension members.
 */
export function sendRefusal<R extends ProblemReply>(reply: R, refusal: { readonly code: string; readonly details: Readonly<Record<string, unknown>> }): R {
  // A gate's code is a feature's, registered when its routes were mounted; `problem` throws for
  // any other (a 500, as for any bug).
  return sendProblem(reply, refusal.code as ErrorCode, { extensions: refusal.details });
}
