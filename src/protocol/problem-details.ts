import type { ErrorCode } from '../core/errors.ts';
import { codeSpec, errorRegistry } from './error-registry.ts';

/** HTTP status of each error code; the HTTP layer and the verify SDK answer with it. */
export const statusOf: Readonly<Record<ErrorCode, number>> = Object.freeze(
  Object.fromEntries(Object.entries(errorRegistry).map(([code, spec]) => [code, spec.status])) as Record<ErrorCode, number>,
);

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

/**
 * The problem details for `code`; `detail` defaults to the code's standard message. A feature's
 * code registered at mount time (`registerCodes`) is answered the same way; an unknown one throws.
 */
export function problem(code: ErrorCode, detail?: string, field?: string): Problem {
  const spec = codeSpec(code);
  if (spec === undefined) throw new Error(`error code ${code} is declared by no mounted feature`);
  const body: Problem = { type: `urn:tokenstile:error:${code}`, title: spec.title, status: spec.status, code, detail: detail ?? spec.title };
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
    ? `Bearer realm="tokenstile", error="invalid_token", error_description="${codeSpec(code)?.title ?? ''}"`
    : 'Bearer realm="tokenstile"';
}

/** The proof algorithms a DPoP challenge advertises (`algs`, RFC 9449 §7.1). */
export const dpopChallengeAlgs = 'ES256 ES384 EdDSA RS256 PS256';

/**
 * The `WWW-Authenticate` challenge of the DPoP scheme (RFC 9449 §7.1): bare (`DPoP algs="…"`),
 * or with an error code and description.
 */
export function dpopChallenge(error?: { readonly code: string; readonly description: string }): string {
  const algs = `algs="${dpopChallengeAlgs}"`;
  return error === undefined ? `DPoP ${algs}` : `DPoP error="${error.code}", error_description="${error.description.replaceAll('"', "'").replaceAll('\\', '')}", ${algs}`;
}
