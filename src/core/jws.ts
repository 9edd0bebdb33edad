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

// ECDSA signatures are malleable: (r, s) and (r, n - s) both verify. We sign with the low s and
// refuse the high one, so a token has exactly one valid signature.
const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const p256HalfOrder = p256Order >> 1n;

function sOf(signature: Buffer): bigint {
  return BigInt(`0x${signature.subarray(32, 64).toString('hex')}`);
}

/** The same P-256 signature with s in the lower half of the group order. */
function lowS(signature: Buffer): Buffer {
  const s = sOf(signature);
  if (s <= p256HalfOrder) return signature;
  const low = Buffer.from((p256Order - s).toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, 32), low]);
}

/** Signs `header.payload` and returns the compact JWS. */
export function signCompact(alg: SigningAlgorithm, key: KeyObject, header: object, payload: object): string {
  const input = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  const raw = sign(digest(alg), Buffer.from(input), signOptions(alg, key));
  const signature = alg === 'ES256' ? lowS(raw) : raw;
  return `${input}.${signature.toString('base64url')}`;
}

/** Checks a signature over `input` with the pinned algorithm. */
export function verifySignature(alg: SigningAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  if (alg === 'ES256' && (signature.length !== 64 || sOf(signature) > p256HalfOrder)) return false;
  try {
    return verify(digest(alg), Buffer.from(input), signOptions(alg, key), signature);
  } catch {
    return false;
  }
}
