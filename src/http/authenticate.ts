import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthInfo } from '../core/auth-info.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { sendProblem } from './problem.ts';

/** True for the optional whitespace HTTP allows around a field value: space and tab only. */
function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * The token of an `Authorization: Bearer …` header (scheme case-insensitive), or null. Only spaces
 * and tabs around the token are skipped (not `String.prototype.trim`'s wider set, which would let
 * a token with, say, a non-breaking space attached pass as the same token); anything else stays
 * part of the token, for the verifier's strict base64url check to refuse.
 */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length < 8) return null;
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return null;
  let start = 7;
  let end = header.length;
  while (start < end && isOws(header.charCodeAt(start))) start++;
  while (end > start && isOws(header.charCodeAt(end - 1))) end--;
  const token = header.slice(start, end);
  return token.length > 0 ? token : null;
}

/** `request.auth` on a route guarded by the authenticate hook (a programming error otherwise). */
export function authOf(request: FastifyRequest): AuthInfo {
  if (!request.auth) throw new Error('route is missing the authenticate hook');
  return request.auth;
}

/** An `onRequest`/`preHandler` hook: sets `request.auth` or answers 401 problem+json. */
export type AuthenticateHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Builds the hook that guards protected routes. It does no I/O: the signature, the claims and the
 * in-memory revocation list decide.
 */
export function createAuthenticate(core: Tokenstile): AuthenticateHook {
  return async function authenticate(request, reply) {
    const token = bearerToken(request.headers.authorization);
    if (token === null) {
      await sendProblem(reply, 'invalid_token', { tokenMissing: true, detail: 'An access token is required: Authorization: Bearer <token>.' });
      return;
    }
    const answer = core.authenticate(token);
    // A promise only while the revocation feed is down (the store is asked); plain otherwise.
    const result = answer instanceof Promise ? await answer : answer;
    if (!result.ok) {
      await sendProblem(reply, result.code, { retryAfterMs: result.retryAfterMs });
      return;
    }
    request.auth = result.value;
  };
}
