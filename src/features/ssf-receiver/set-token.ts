import type { JWTVerifyGetKey } from 'jose';

/** `jose`, loaded at the first SET: importing Tokenstile loads no other package. */
const loadJose = () => import('jose');

/** Longest SET accepted (a JWS of a few claims is far shorter). */
export const maxSetLength = 16 * 1024;

/**
 * Why a SET was refused, as RFC 8935 section 2.4 names it (the `err` of a push answer, and of a
 * poll's `setErrs`): `invalid_request` (not a SET, or an event that does not parse),
 * `invalid_key` (signature or key not acceptable), `invalid_issuer`, `invalid_audience`.
 */
export interface SetRefusal {
  readonly err: 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience';
  /** For the transmitter's logs: never echoes the token. */
  readonly description: string;
}

/** The parts of a valid SET this receiver reads. */
export interface VerifiedSet {
  readonly jti: string;
  /** `iat`, in ms. */
  readonly issuedAt: number;
  /** RFC 8417 `events`: event type URI to its payload object. */
  readonly events: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** SSF's top-level subject (`sub_id`), when present. */
  readonly subId: unknown;
}

/** What a SET is checked against. */
export interface SetCheck {
  readonly issuer: string;
  readonly audience: string;
  readonly keys: JWTVerifyGetKey;
  /** Asymmetric algorithms only (checked at startup). */
  readonly algorithms: readonly string[];
  /** Now, in ms (the injected clock). */
  readonly now: number;
  readonly clockToleranceSeconds: number;
  /** Older SETs (by `iat`) are refused, in ms: the replay records last this long. */
  readonly maxAgeMs: number;
}

/** A failure to check a SET that is not the SET's fault (its keys could not be fetched): retried later, never refused. */
export class SetCheckUnavailable extends Error {}

const refuse = (err: SetRefusal['err'], description: string) => ({ ok: false as const, refusal: { err, description } });

/**
 * Validates a Security Event Token as RFC 8417 section 2 and the Shared Signals Framework say: a
 * JWS (compact, signed by one of the transmitter's keys with one of the pinned asymmetric
 * algorithms), header `typ` `secevent+jwt`, `iss` the transmitter, `aud` ours, `iat` present,
 * not in the future (beyond the clock tolerance) and not older than `maxAgeMs`, `jti` present,
 * `events` an object of objects. No `exp` is required (SETs have none). Replay is the caller's check.
 */
export async function verifySet(token: string, check: SetCheck): Promise<{ ok: true; value: VerifiedSet } | { ok: false; refusal: SetRefusal }> {
  if (token.length === 0 || token.length > maxSetLength || token.split('.').length !== 3) return refuse('invalid_request', 'the body is not a signed JWT (compact JWS)');
  const { errors, jwtVerify } = await loadJose();
  let payload: Record<string, unknown>;
  try {
    const verified = await jwtVerify(token, check.keys, {
      issuer: check.issuer,
      audience: check.audience,
      algorithms: [...check.algorithms],
      typ: 'secevent+jwt',
      currentDate: new Date(check.now),
      clockTolerance: check.clockToleranceSeconds,
      maxTokenAge: Math.floor(check.maxAgeMs / 1000),
      requiredClaims: ['iat', 'jti'],
    });
    payload = verified.payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired) {
      if (err.claim === 'iss') return refuse('invalid_issuer', 'iss is not the transmitter this endpoint receives from');
      if (err.claim === 'aud') return refuse('invalid_audience', 'aud does not name this receiver');
      if (err.claim === 'typ') return refuse('invalid_request', 'the typ header is not secevent+jwt');
      return refuse('invalid_request', `the ${err.claim} claim is not valid (${err.reason})`);
    }
    if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JWKSMultipleMatchingKeys) {
      return refuse('invalid_key', 'the signature or its key is not accepted');
    }
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) return refuse('invalid_request', 'the body is not a valid signed JWT');
    // The keys could not be fetched or read (network, timeout, not 200, not a JWKS): not the SET's fault.
    throw new SetCheckUnavailable('the transmitter\'s keys could not be fetched', { cause: err });
  }
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) return refuse('invalid_request', 'jti is missing or not valid');
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events) || Object.keys(events).length === 0) return refuse('invalid_request', 'events is missing or empty');
  for (const value of Object.values(events)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return refuse('invalid_request', 'each member of events must be an object');
  }
  return { ok: true, value: { jti: payload.jti, issuedAt: (payload.iat as number) * 1000, events: events as VerifiedSet['events'], subId: payload.sub_id } };
}

/** The transmitter's signing keys, fetched from its `jwks_uri` and cached by jose (refetched for an unknown `kid`). */
export async function remoteSetKeys(jwksUri: URL): Promise<JWTVerifyGetKey> {
  const { createRemoteJWKSet } = await loadJose();
  return createRemoteJWKSet(jwksUri, { timeoutDuration: 10_000, cooldownDuration: 30_000 });
}
