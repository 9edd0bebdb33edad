import type { AccessClaims } from '../core/access-tokens.ts';
import { VerifierUnavailableError } from './verify-errors.ts';
import type { ResolvedVerifierOptions } from './verify-options.ts';

type StreamSource = Exclude<ResolvedVerifierOptions['revocations'], false>;

/** The members of an RFC 7662 answer that the verifier reads. */
export interface IntrospectionAnswer {
  readonly active?: unknown;
  readonly token_type?: unknown;
  readonly iss?: unknown;
  readonly aud?: unknown;
  readonly sub?: unknown;
  readonly sid?: unknown;
  readonly jti?: unknown;
  readonly iat?: unknown;
  readonly exp?: unknown;
}

/**
 * Asks the auth server's `/oauth/introspect` about one token, as the configured client. Throws
 * `VerifierUnavailableError` (with the cause) when it cannot get an answer.
 */
export async function askIntrospection(source: StreamSource, fetchFn: typeof fetch, token: string): Promise<IntrospectionAnswer> {
  const { introspectionUrl, clientId, clientSecret } = source;
  try {
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    const res = await fetchFn(introspectionUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) throw new Error(`introspection answered ${res.status}`);
    return (await res.json()) as IntrospectionAnswer;
  } catch (err) {
    throw new VerifierUnavailableError('The auth server could not be asked about this token (introspection failed); retry shortly.', { cause: err });
  }
}

const handlePrefix = 'tsa_';
const handleLength = 112;

/**
 * The session id inside an opaque handle (`tsa_` + base64url of version 1, session id, user id,
 * secret, tag), or null when the text does not have that shape. The MAC cannot be checked here
 * (only the auth server holds its key): this only turns garbage away before a network call.
 */
export function handleSessionId(token: string): string | null {
  if (token.length !== handleLength || !token.startsWith(handlePrefix)) return null;
  const encoded = token.slice(handlePrefix.length);
  const raw = Buffer.from(encoded, 'base64url');
  if (raw.length !== 81 || raw[0] !== 1 || raw.toString('base64url') !== encoded) return null;
  const hex = raw.subarray(1, 17).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The claims of an active introspection answer for an access token of `sessionId`, checked
 * against the verifier's issuer and audience; null when it is not one.
 */
export function claimsOf(answer: IntrospectionAnswer, sessionId: string, issuer: string, audience: string): AccessClaims | null {
  if (answer.active !== true || (answer.token_type !== 'Bearer' && answer.token_type !== 'DPoP') || answer.sid !== sessionId || answer.iss !== issuer) return null;
  // A DPoP token names its key (RFC 9449 §6.2); one that does not cannot be checked, so it is refused.
  const cnf = (answer as { cnf?: { jkt?: unknown } }).cnf;
  const jkt = typeof cnf?.jkt === 'string' ? cnf.jkt : null;
  if ((answer.token_type === 'DPoP') !== (jkt !== null)) return null;
  const { aud, sub, jti, iat, exp } = answer;
  if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) return null;
  if (typeof sub !== 'string' || typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return null;
  return Object.freeze({ iss: issuer, aud: aud as AccessClaims['aud'], sub, sid: sessionId, jti, iat, exp, ...(jkt !== null && { cnf: { jkt } }) });
}

/** Active answers for opaque handles, bounded, reused only within their time. */
export class HandleCache {
  readonly #entries = new Map<string, { claims: AccessClaims; until: number }>();
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  get(token: string, now: number): AccessClaims | null {
    const hit = this.#entries.get(token);
    if (hit === undefined) return null;
    if (hit.until > now) return hit.claims;
    this.#entries.delete(token);
    return null;
  }

  set(token: string, claims: AccessClaims, until: number): void {
    if (this.#entries.size >= this.#limit) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, { claims, until });
  }
}
