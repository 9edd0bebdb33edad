import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { issuer } from '../helpers.ts';

/** A client's DPoP key pair, made and used with jose alone (never with Tokenstile's code). */
export interface ProofKey {
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  readonly jkt: string;
  readonly alg: string;
}

/** A new key pair for proofs (ES256 unless told). */
export async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256'), alg };
}

/** What a test may change in a proof: claims (null drops one), header members, the signing key. */
export interface ProofParts {
  readonly htm?: string | null;
  readonly htu?: string | null;
  readonly iat?: number | null;
  readonly jti?: string | null;
  readonly ath?: string | null;
  readonly nonce?: string;
  readonly typ?: string;
  /** The JWK put in the header (another key's, or one with private members). */
  readonly jwk?: JWK;
  readonly extraClaims?: Record<string, unknown>;
}

/** base64url(SHA-256(token)), computed here, independently of the server. */
export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * A DPoP proof for `method` `path` (on the test issuer, or an absolute URL), signed by `key`, `iat` from `nowMs`.
 * With `accessToken`, `ath` is its hash.
 */
export async function proof(key: ProofKey, method: string, path: string, nowMs: number, accessToken?: string, parts: ProofParts = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: method,
    htu: /^https?:/.test(path) ? path : `${issuer}${path}`,
    iat: Math.floor(nowMs / 1000),
    jti: randomUUID(),
    ...(accessToken !== undefined && { ath: ath(accessToken) }),
  };
  for (const name of ['htm', 'htu', 'iat', 'jti', 'ath'] as const) {
    const v = parts[name];
    if (v === null) delete claims[name];
    else if (v !== undefined) claims[name] = v;
  }
  if (parts.nonce !== undefined) claims.nonce = parts.nonce;
  Object.assign(claims, parts.extraClaims);
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ: parts.typ ?? 'dpop+jwt', jwk: parts.jwk ?? key.jwk }).sign(key.privateKey);
}
