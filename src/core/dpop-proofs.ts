import { createHash } from 'node:crypto';
import type { CryptoKey, JWK, JWSHeaderParameters } from 'jose';
import type { ProofReplayStore } from './proof-replay.ts';

/**
 * DPoP proofs (RFC 9449 §4): the checks shared by the server and `tokenstile/verify`. jose does
 * the JOSE work (signature, embedded JWK, thumbprint); it is loaded at the first proof, so that an
 * app that never sees one never loads it.
 */

/** The proof algorithms accepted: asymmetric only (never `none` or an HMAC). */
export const dpopAlgorithms = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;

/** How refusals name the accepted algorithms. */
const dpopAlgsText = 'ES256, ES384, ES512, EdDSA, RS256, PS256 (and their larger variants)';

/** Longest proof read; longer input is refused before any parsing. */
export const maxProofLength = 8192;

/** Why a proof is refused: `use_dpop_nonce` when only the server nonce is missing or stale. */
export type ProofFailure = { readonly ok: false; readonly code: 'invalid_dpop_proof' | 'use_dpop_nonce' | 'service_unavailable'; readonly reason: string };

/** A checked proof: the thumbprint of its key (RFC 7638, SHA-256, base64url). */
export type ProofResult = { readonly ok: true; readonly jkt: string } | ProofFailure;

/** What a proof must match. */
export interface ProofExpectation {
  /** The request method, upper case. */
  readonly method: string;
  /** The request's public URL; its query and fragment are ignored. */
  readonly url: string;
  /** The access token presented with the proof (resource requests): `ath` must be its hash. */
  readonly accessToken?: string | undefined;
  /**
   * The token came in the HttpOnly access cookie, which the page that signs the proof cannot read:
   * `ath` may be left out (when present it must still match). The key, `htm`/`htu`, `iat` and the
   * single-use `jti` tie the proof to this request all the same.
   */
  readonly athOptional?: boolean | undefined;
  /** The thumbprint the token is bound to: the proof's key must have it. */
  readonly jkt?: string | undefined;
}

/** How proofs are checked. */
export interface ProofSettings {
  /** How far `iat` may be from now, either way, ms (the window plus the clock tolerance). */
  readonly windowMs: number;
  readonly now: () => number;
  /** Remembers proof `jti`s for `2 × windowMs`: a second use is refused. */
  readonly replay: ProofReplayStore;
  /** When set, the `nonce` claim must pass it (server nonces, RFC 9449 §8). */
  readonly nonceValid?: ((nonce: string) => boolean) | undefined;
}

type Jose = typeof import('jose');
let jose: Promise<Jose> | undefined;
const loadJose = (): Promise<Jose> => (jose ??= import('jose'));

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const keyCacheLimit = 4096;
/** base64url length of a 32-bit RSA public exponent. */
const maxRsaExponentChars = 6;

/** Imported keys by the proof's protected header: one client sends the same header every time. */
const keys = new Map<string, { readonly key: CryptoKey; readonly jkt: string }>();

const refuse = (reason: string): ProofFailure => ({ ok: false, code: 'invalid_dpop_proof', reason });

/** base64url(SHA-256(token)): a proof's `ath` for an access token. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/**
 * RFC 3986 §6.2.2.1-2 on a path: percent-encodings in upper case, and those of unreserved
 * characters decoded (`%7e` is `~`); reserved ones stay encoded (`%2F` is not a `/`).
 */
function normalizePercentEncoding(path: string): string {
  return path.replace(/%[0-9a-fA-F]{2}/g, (triplet) => {
    const c = String.fromCharCode(Number.parseInt(triplet.slice(1), 16));
    return /[A-Za-z0-9._~-]/.test(c) ? c : triplet.toUpperCase();
  });
}

/**
 * `url` without query and fragment, normalized as RFC 9449 §4.3 asks (RFC 3986 syntax- and
 * scheme-based: case of scheme and host, default port, dot segments, percent-encoding); null when
 * not an http(s) URL.
 */
export function normalizeHtu(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    return `${u.origin}${u.pathname.includes('%') ? normalizePercentEncoding(u.pathname) : u.pathname}`;
  } catch {
    return null;
  }
}

/** Reads the protected header of a compact JWS without trusting it; null when unreadable. */
function headerOf(proof: string): { segment: string; header: Record<string, unknown> } | null {
  const dot = proof.indexOf('.');
  if (dot <= 0) return null;
  const segment = proof.slice(0, dot);
  try {
    const header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null && !Array.isArray(header) ? { segment, header: header as Record<string, unknown> } : null;
  } catch {
    return null;
  }
}

/** The key of a header (cached by the header's text), or why it cannot be one. */
async function keyOf(j: Jose, segment: string, header: Record<string, unknown>): Promise<{ key: CryptoKey; jkt: string } | string> {
  const known = keys.get(segment);
  if (known !== undefined) return known;
  if (header.typ !== 'dpop+jwt') return 'typ must be dpop+jwt';
  if (typeof header.alg !== 'string' || !(dpopAlgorithms as readonly string[]).includes(header.alg)) return `alg must be one of ${dpopAlgsText}`;
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'the header must carry the public key as jwk';
  if (privateMembers.some((m) => m in jwk)) return 'jwk must be a public key';
  // A huge RSA exponent makes each verification cost as much as a private-key operation (tens of
  // ms), which anyone could ask of a sign-in route; real keys use 65537 (`AQAB`).
  const e = (jwk as { e?: unknown }).e;
  if ((jwk as { kty?: unknown }).kty === 'RSA' && (typeof e !== 'string' || e.length > maxRsaExponentChars)) return 'jwk: the RSA public exponent must be at most 32 bits (65537 is usual)';
  let key: CryptoKey;
  let jkt: string;
  try {
    // EmbeddedJWK imports the header's own key (and refuses a symmetric one).
    key = await j.EmbeddedJWK(header as JWSHeaderParameters);
    jkt = await j.calculateJwkThumbprint(jwk as JWK, 'sha256');
  } catch {
    return 'jwk is not a usable public key';
  }
  if (keys.size >= keyCacheLimit) keys.delete(keys.keys().next().value!);
  const entry = { key, jkt };
  keys.set(segment, entry);
  return entry;
}

/**
 * Checks a DPoP proof against a request (RFC 9449 §4.3): structure, `typ`, asymmetric `alg`, a
 * public `jwk`, the signature, `htm`, `htu`, `iat` within the window, `jti`, `ath` (with an access
 * token), the bound key (with `jkt`), the server nonce (when on), and last, once everything else
 * passed, that the `jti` was never seen (a replay store outage: `service_unavailable`).
 */
export async function checkProof(proof: string | undefined, expect: ProofExpectation, settings: ProofSettings): Promise<ProofResult> {
  if (proof === undefined || proof.length === 0) return refuse('a DPoP proof is required (the DPoP header)');
  if (proof.length > maxProofLength || proof.split('.').length !== 3) return refuse('the DPoP header is not a compact JWS');
  const parsed = headerOf(proof);
  if (parsed === null) return refuse('the DPoP proof header is not readable');
  const j = await loadJose();
  const key = await keyOf(j, parsed.segment, parsed.header);
  if (typeof key === 'string') return refuse(key);
  let payload: Record<string, unknown>;
  try {
    const verified = await j.compactVerify(proof, key.key, { algorithms: [...dpopAlgorithms] });
    payload = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
  } catch {
    return refuse('the DPoP proof signature does not verify');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return refuse('the DPoP proof claims are not a JSON object');
  if (expect.jkt !== undefined && key.jkt !== expect.jkt) return refuse('the DPoP proof is signed by another key than the token is bound to');
  if (payload.htm !== expect.method) return refuse('htm does not match the request method');
  const htu = typeof payload.htu === 'string' ? normalizeHtu(payload.htu) : null;
  if (htu === null || htu !== normalizeHtu(expect.url)) return refuse('htu does not match the request URL');
  const iat = payload.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return refuse('iat is missing');
  const now = settings.now();
  if (Math.abs(iat * 1000 - now) > settings.windowMs) return refuse('iat is outside the accepted window');
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) return refuse('jti is missing');
  if (expect.accessToken !== undefined && !(expect.athOptional && payload.ath === undefined) && payload.ath !== accessTokenHash(expect.accessToken)) return refuse('ath does not match the access token');
  if (settings.nonceValid !== undefined && (typeof payload.nonce !== 'string' || !settings.nonceValid(payload.nonce))) {
    return { ok: false, code: 'use_dpop_nonce', reason: 'a fresh server nonce is required (the DPoP-Nonce header)' };
  }
  // Per key and jti: another client cannot burn this client's jti, and the key is secret-free.
  const replayKey = createHash('sha256').update(`${key.jkt}\n${jti}`).digest('base64url');
  let first: boolean;
  try {
    first = await settings.replay.claim(replayKey, 2 * settings.windowMs);
  } catch {
    return { ok: false, code: 'service_unavailable', reason: 'the DPoP replay store is unavailable' };
  }
  if (!first) return refuse('this DPoP proof was already used');
  return { ok: true, jkt: key.jkt };
}
