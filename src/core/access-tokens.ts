import type { KeyObject } from 'node:crypto';
import type { Clock } from './clock.ts';
import { fail, ok, type Result } from './errors.ts';
import { secureRandom, type RandomSource } from './ids.ts';
import { decodeSegment, signCompact, verifySignature } from './jws.ts';
import type { Keyring, SigningAlgorithm, VerificationKeys } from './keys.ts';

/** The claims of a Tokenstile access token (RFC 9068 profile). Times in seconds. */
export interface AccessClaims {
  readonly iss: string;
  readonly aud: string | readonly string[];
  /** User id. */
  readonly sub: string;
  /** Session id. */
  readonly sid: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly nbf?: number;
  /** How the session's user authenticated (RFC 8176), such as `['pwd']`; absent in tokens minted before it was recorded. */
  readonly amr?: readonly string[];
  /** When the user last proved who they are in this session (sign-in or re-authentication), seconds; absent in older tokens. */
  readonly auth_time?: number;
  /** Whether the user's email was verified when the token was issued; absent in older tokens. */
  readonly email_verified?: boolean;
  /** The key the token is bound to (RFC 9449 §6.1: `jkt`, its RFC 7638 thumbprint); absent for a Bearer token. */
  readonly cnf?: { readonly jkt: string };
}

export const accessTokenType = 'at+jwt';

/** Longest token we read; longer input is refused before any parsing or crypto. */
export const maxTokenLength = 8192;

export interface AccessTokenSettings {
  readonly issuer: string;
  readonly audience: string;
  /** Access-token lifetime, ms (`exp` is whole seconds: at least one). */
  readonly accessTtlMs: number;
  /** Leeway for `exp`, `nbf` and `iat`, ms. */
  readonly clockToleranceMs: number;
}

/** Mints access tokens with the keyring's signing key. */
export function issueAccessToken(
  keyring: Keyring,
  settings: AccessTokenSettings,
  clock: Clock,
  subject: { userId: string; sessionId: string; amr?: readonly string[]; authTime?: number; emailVerified?: boolean; jkt?: string | null },
  random: RandomSource = secureRandom,
): { token: string; claims: AccessClaims } {
  const iat = Math.floor(clock.now() / 1000);
  const claims: AccessClaims = {
    iss: settings.issuer,
    aud: settings.audience,
    sub: subject.userId,
    sid: subject.sessionId,
    jti: random(16).toString('base64url'),
    iat,
    exp: iat + Math.max(1, Math.round(settings.accessTtlMs / 1000)),
    ...(subject.amr === undefined ? {} : { amr: subject.amr }),
    ...(subject.authTime === undefined ? {} : { auth_time: Math.floor(subject.authTime / 1000) }),
    ...(subject.emailVerified === undefined ? {} : { email_verified: subject.emailVerified }),
    ...(typeof subject.jkt === 'string' ? { cnf: { jkt: subject.jkt } } : {}),
  };
  const header = { alg: keyring.alg, kid: keyring.signing.kid, typ: accessTokenType };
  return { token: signCompact(keyring.alg, keyring.signing.key, header, claims), claims };
}

/**
 * The `kid` of a token's header, read without verifying anything: only to pick which key set to
 * consult. Null when the token has no readable header or no string `kid`.
 */
export function unverifiedKid(token: string): string | null {
  if (typeof token !== 'string' || token.length > maxTokenLength) return null;
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const bytes = decodeSegment(token.slice(0, dot));
  if (!bytes) return null;
  try {
    const header = JSON.parse(bytes.toString('utf8')) as { kid?: unknown } | null;
    return typeof header?.kid === 'string' ? header.kid : null;
  } catch {
    return null;
  }
}

const allowedHeaderMembers = new Set(['alg', 'kid', 'typ']);
const headerCacheLimit = 64;

/** How many verified tokens `AccessTokenVerifier` remembers by default. */
export const defaultVerifiedCacheSize = 10_000;

/** What verifying needs of the settings: who issues, for whom, with how much leeway (seconds). */
export type VerifySettings = Pick<AccessTokenSettings, 'issuer' | 'audience' | 'clockToleranceMs'>;

/**
 * Verifies access tokens: structure, pinned algorithm, known `kid`, signature, then `typ`,
 * `iss`, `aud`, `exp`, `nbf`, `iat`. Revocation is checked by the caller.
 *
 * The signature check dominates the cost (ECDSA P-256: ~75 µs), and a client sends the same token
 * for its whole lifetime, so tokens whose signature and static claims passed are remembered
 * (bounded, oldest dropped first, keyed by the exact token text). Only genuinely signed tokens get
 * in, so forged input cannot fill the cache; time claims are checked again on every call; a new
 * keyring empties it. A header that passed once is remembered too (one per key).
 */
export class AccessTokenVerifier {
  readonly #getKeyring: () => VerificationKeys;
  readonly #settings: VerifySettings;
  readonly #clock: Clock;
  readonly #verifiedLimit: number;
  #headers = new Map<string, { keyring: VerificationKeys; key: KeyObject; alg: SigningAlgorithm }>();
  #verified = new Map<string, AccessClaims>();
  #verifiedFor: VerificationKeys | null = null;

  /**
   * @param getKeyring the current keys (the server's Keyring, or a resource server's JWKS); a new
   *   object empties the caches
   * @param verifiedCacheSize how many verified tokens to remember; 0 turns the cache off.
   */
  constructor(getKeyring: () => VerificationKeys, settings: VerifySettings, clock: Clock, verifiedCacheSize = defaultVerifiedCacheSize) {
    this.#getKeyring = getKeyring;
    this.#settings = settings;
    this.#clock = clock;
    this.#verifiedLimit = verifiedCacheSize;
  }

  /** The token's claims, or why it is refused. Revocation is the caller's check. */
  verify(token: string): Result<AccessClaims, 'invalid_token' | 'token_expired'> {
    if (typeof token !== 'string' || token.length > maxTokenLength) return fail('invalid_token');
    const keyring = this.#getKeyring();
    if (this.#verifiedFor !== keyring) {
      this.#verified.clear();
      this.#verifiedFor = keyring;
    }
    const known = this.#verified.get(token);
    if (known !== undefined) return this.#checkTimes(known);
    const dot1 = token.indexOf('.');
    const dot2 = token.indexOf('.', dot1 + 1);
    if (dot1 <= 0 || dot2 <= dot1 + 1 || token.indexOf('.', dot2 + 1) !== -1) return fail('invalid_token');
    const headerSegment = token.slice(0, dot1);
    const key = this.#headerKey(headerSegment, keyring);
    if (!key) return fail('invalid_token');
    const signature = decodeSegment(token.slice(dot2 + 1));
    if (!signature || !verifySignature(key.alg, key.key, token.slice(0, dot2), signature)) return fail('invalid_token');
    const payload = decodeSegment(token.slice(dot1 + 1, dot2));
    if (!payload) return fail('invalid_token');
    let claims: unknown;
    try {
      claims = JSON.parse(payload.toString('utf8'));
    } catch {
      return fail('invalid_token');
    }
    const checked = this.#checkStaticClaims(claims);
    if (checked === null) return fail('invalid_token');
    if (this.#verifiedLimit > 0) {
      if (this.#verified.size >= this.#verifiedLimit) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, checked);
    }
    return this.#checkTimes(checked);
  }

  #headerKey(segment: string, keyring: VerificationKeys): { key: KeyObject; alg: SigningAlgorithm } | undefined {
    const cached = this.#headers.get(segment);
    if (cached && cached.keyring === keyring) return cached;
    const bytes = decodeSegment(segment);
    if (!bytes) return undefined;
    let header: unknown;
    try {
      header = JSON.parse(bytes.toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
    const h = header as Record<string, unknown>;
    // Only alg, kid and typ: jku, x5u, jwk, x5c and crit are refused rather than ignored.
    for (const name of Object.keys(h)) if (!allowedHeaderMembers.has(name)) return undefined;
    if (typeof h.alg !== 'string' || typeof h.kid !== 'string') return undefined;
    if (typeof h.typ !== 'string' || !isAccessTokenType(h.typ)) return undefined;
    // The key decides the algorithm (pinned by configuration); the header only has to agree.
    const found = keyring.keyFor(h.kid, h.alg);
    if (!found) return undefined;
    const entry = { keyring, key: found.key, alg: found.alg };
    if (this.#headers.size >= headerCacheLimit) this.#headers.clear();
    this.#headers.set(segment, entry);
    return entry;
  }

  /** The claims that do not change with time; null when any is wrong. */
  #checkStaticClaims(value: unknown): AccessClaims | null {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const c = value as Record<string, unknown>;
    const { issuer, audience } = this.#settings;
    if (c.iss !== issuer) return null;
    if (!(c.aud === audience || (Array.isArray(c.aud) && c.aud.includes(audience)))) return null;
    if (!isNonEmptyString(c.sub) || !isNonEmptyString(c.sid) || !isNonEmptyString(c.jti)) return null;
    if (!isNumericDate(c.exp) || !isNumericDate(c.iat)) return null;
    if (c.nbf !== undefined && !isNumericDate(c.nbf)) return null;
    // A confirmation we cannot read would let a bound token pass as a Bearer one: refused.
    if (c.cnf !== undefined && !isConfirmation(c.cnf)) return null;
    return Object.freeze(c) as unknown as AccessClaims;
  }

  #checkTimes(c: AccessClaims): Result<AccessClaims, 'invalid_token' | 'token_expired'> {
    const now = this.#clock.now() / 1000;
    const clockTolerance = this.#settings.clockToleranceMs / 1000;
    if (c.iat > now + clockTolerance) return fail('invalid_token');
    if (c.nbf !== undefined && c.nbf > now + clockTolerance) return fail('invalid_token');
    if (c.exp <= now - clockTolerance) return fail('token_expired');
    return ok(c);
  }
}

function isAccessTokenType(typ: string): boolean {
  const t = typ.toLowerCase();
  return t === 'at+jwt' || t === 'application/at+jwt';
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 256;
}

function isConfirmation(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const jkt = (v as Record<string, unknown>).jkt;
  return isNonEmptyString(jkt) && Object.keys(v).length === 1;
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
