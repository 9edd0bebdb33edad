import { sign, verify, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from './keys.ts';

const b64url = /^[A-Za-z0-9_-]+$/;

/** Encodes JSON as base64url. */
export function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * Decodes a base64url segment strictly: only the URL-safe alphabet, no padding, and canonical
 * (re-encoding gives the same text), so one token has exactly one spelling.
 */
export function decodeSegment(segment: string): Buffer | null {
  if (!b64url.test(segment)) return null;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : null;
}

function signOptions(alg: SigningAlgorithm, key: KeyObject) {
  // JWS wants ECDSA signatures as r||s (IEEE P1363), not DER.
  return alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
}

function digest(alg: SigningAlgorithm): string | null {
  return alg === 'EdDSA' ? null : 'sha256';
}

/** Signs `header.payload` and returns the compact JWS. */
export function signCompact(alg: SigningAlgorithm, key: KeyObject, header: object, payload: object): string {
  const input = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  const signature = sign(digest(alg), Buffer.from(input), signOptions(alg, key));
  return `${input}.${signature.toString('base64url')}`;
}

/** Checks a signature over `input` with the pinned algorithm. */
export function verifySignature(alg: SigningAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  if (alg === 'ES256' && signature.length !== 64) return false;
  try {
    return verify(digest(alg), Buffer.from(input), signOptions(alg, key), signature);
  } catch {
    return false;
  }
}
