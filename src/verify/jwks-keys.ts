import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JsonWebKey, SigningAlgorithm, VerificationKeys } from '../core/keys.ts';

/** The algorithm a JWK is for: its `alg` when present, else what its key type implies. */
function algOf(jwk: JsonWebKey & { alg?: unknown }): SigningAlgorithm | null {
  if (typeof jwk.alg === 'string') return jwk.alg === 'ES256' || jwk.alg === 'EdDSA' || jwk.alg === 'RS256' ? jwk.alg : null;
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  return null;
}

/**
 * A JWK set as verification keys: only signing keys (`use` absent or `sig`) with a `kid`, of an
 * allowed algorithm, whose key type fits that algorithm. Everything else is skipped, not fatal: a
 * server may publish keys this verifier does not use.
 */
export class JwkSetKeys implements VerificationKeys {
  readonly #keys = new Map<string, { key: KeyObject; alg: SigningAlgorithm }>();

  constructor(set: unknown, algorithms: readonly SigningAlgorithm[]) {
    const keys = typeof set === 'object' && set !== null && Array.isArray((set as { keys?: unknown }).keys) ? (set as { keys: unknown[] }).keys : null;
    if (keys === null) throw new Error('not a JWK set');
    for (const raw of keys) {
      if (typeof raw !== 'object' || raw === null) continue;
      const jwk = raw as JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown };
      if (typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
      const alg = algOf(jwk);
      if (alg === null || !algorithms.includes(alg)) continue;
      const fits = alg === 'ES256' ? jwk.kty === 'EC' && jwk.crv === 'P-256' : alg === 'EdDSA' ? jwk.kty === 'OKP' && jwk.crv === 'Ed25519' : jwk.kty === 'RSA';
      if (!fits) continue;
      try {
        // Only the public members: a set that leaks a private part still yields a public key.
        const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
        const key = createPublicKey({ key: pub, format: 'jwk' });
        if (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) continue;
        this.#keys.set(jwk.kid, { key, alg });
      } catch {
        // A malformed key is skipped like an unknown one.
      }
    }
  }

  get size(): number {
    return this.#keys.size;
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  keyFor(kid: string, alg: unknown): { readonly key: KeyObject; readonly alg: SigningAlgorithm } | undefined {
    const entry = this.#keys.get(kid);
    return entry !== undefined && entry.alg === alg ? entry : undefined;
  }
}
