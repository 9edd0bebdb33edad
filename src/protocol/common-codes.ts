import { defineCodes } from './error-codes.ts';

/**
 * Codes every area answers with: request parsing and transport (malformed or oversized bodies,
 * unknown paths, rate limits, CSRF), access-token checks (shared by the server and the verify SDK)
 * and server faults.
 */
export const commonCodes = defineCodes({
  invalid_request: { status: 400, title: 'The request is malformed.' },
  invalid_token: { status: 401, title: 'The access token is missing, malformed or not valid here.' },
  token_expired: { status: 401, title: 'The access token has expired; refresh it.' },
  session_revoked: { status: 401, title: 'The session of this token has ended; sign in again.' },
  // DPoP (RFC 9449): 400 from the sign-in and refresh routes (§5, §8); protected routes answer the
  // same codes with 401 and a `WWW-Authenticate: DPoP` challenge (§7.1, §9).
  invalid_dpop_proof: { status: 400, title: 'The DPoP proof is missing, malformed, or does not match this request or key.' },
  use_dpop_nonce: { status: 400, title: 'The DPoP proof must carry the server nonce from the DPoP-Nonce header.' },
  csrf_failed: { status: 403, title: 'The CSRF check failed.' },
  not_found: { status: 404, title: 'Not found.' },
  method_not_allowed: { status: 405, title: 'Method not allowed.' },
  payload_too_large: { status: 413, title: 'The request body is too large.' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json.' },
  too_many_requests: { status: 429, title: 'Too many requests; retry later.' },
  service_unavailable: { status: 503, title: 'A store Tokenstile depends on is unavailable; retry later.' },
  invalid_config: { status: 500, title: 'The server is misconfigured.' },
  internal_error: { status: 500, title: 'An internal error occurred.' },
});
