import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** The JWS algorithms Tokenstile signs with. One is configured; tokens with any other are refused. */
export const signingAlgorithms = ['ES256', 'EdDSA', 'RS256'] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

/**
 * A JSON Web Key (RFC 7517): the members of the RSA, EC and OKP keys Tokenstile makes and reads.
 * Declared here rather than taken from `node:crypto`, whose `JsonWebKey` type moved between
 * `@types/node` versions (gone from the module in 26), so that the published declarations compile
 * with whichever version the user has. A type literal, so that Node's key functions accept it.
 */
export type JsonWebKey = {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  n?: string;
  e?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  k?: string;
  kid?: string;
  alg?: string;
  use?: string;
};

/** A signing key pair as kept in the key store (private part as a JWK). */
export interface StoredSigningKey {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateJwk: JsonWebKey;
  readonly publicJwk: JsonWebKey;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** When the key stopped signing; it stays published until its tokens have expired. */
  readonly retiredAt: number | null;
}

/** A public key as published in the JWKS (RFC 7517). */
export type PublicJwk = JsonWebKey & {
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
};

/** Generates a fresh key pair for `alg`. RSA keys are 2048-bit, ECDSA keys P-256. */
export function generateSigningKey(alg: SigningAlgorithm, now: number): StoredSigningKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = pair.publicKey.export({ format: 'jwk' });
  const privateJwk = pair.privateKey.export({ format: 'jwk' });
  return { kid: jwkThumbprint(publicJwk), alg, privateJwk, publicJwk, createdAt: now, retiredAt: null };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) over the required members in lexical order. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'OKP'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
        : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/**
 * Public keys a token may be verified with, by `kid`. The header's `alg` must match both the
 * pinned algorithms and the key's own algorithm, so a token cannot choose how it is checked.
 */
export interface VerificationKeys {
  /** The key for `kid` when it verifies `alg`; undefined for an unknown kid or another algorithm. */
  keyFor(kid: string, alg: unknown): { readonly key: KeyObject; readonly alg: SigningAlgorithm } | undefined;
}

/**
 * Whether a stored key is still signing at `now`: an active key (`retiredAt` null), or one whose
 * retirement is scheduled in the future by a rotation while its successor is published ahead.
 */
export function signsAt(k: StoredSigningKey, now: number): boolean {
  return k.retiredAt === null || k.retiredAt > now;
}

/**
 * The keys of `alg` still signing at `now` in the order they sign: the one retiring soonest signs
 * now (every instance picks the same one without coordination), the active key (`retiredAt` null)
 * last. More than one means a rotation is pending.
 */
export function signingOrder(keys: readonly StoredSigningKey[], alg: SigningAlgorithm, now: number): StoredSigningKey[] {
  return keys
    .filter((k) => k.alg === alg && signsAt(k, now))
    .sort((a, b) => (a.retiredAt ?? Infinity) - (b.retiredAt ?? Infinity) || a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : 1));
}

/**
 * The keys in use: one signs, the published ones verify. Only keys of the configured algorithm
 * are ever used, so a token cannot choose its own algorithm.
 *
 * Rotation (see `rotateSigningKey`) stores the next key as active and schedules the current one's
 * retirement a publish-ahead delay later: until then both are published and the outgoing key still
 * signs, so verifiers that cache the JWKS see the new key before any token carries it.
 */
export class Keyring implements VerificationKeys {
  readonly alg: SigningAlgorithm;
  readonly signing: { readonly kid: string; readonly key: KeyObject };
  /**
   * When this keyring stops being right by the clock alone (a scheduled retirement takes effect,
   * or a retired key's publication ends), in ms since the epoch; Infinity when never.
   */
  readonly validUntil: number;
  readonly #verify = new Map<string, { key: KeyObject; alg: SigningAlgorithm }>();
  readonly #jwks: { keys: PublicJwk[] };

  /**
   * @param keys every stored key
   * @param publishFor a retired key stays usable for verification until `retiredAt + publishFor` (ms)
   */
  constructor(keys: readonly StoredSigningKey[], alg: SigningAlgorithm, now: number, publishFor: number) {
    this.alg = alg;
    const usable = keys
      .filter((k) => k.alg === alg && (k.retiredAt === null || k.retiredAt + publishFor > now))
      .sort((a, b) => a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : 1));
    const active = signingOrder(usable, alg, now)[0];
    if (!active) throw new Error(`no active ${alg} signing key`);
    this.signing = { kid: active.kid, key: createPrivateKey({ key: active.privateJwk, format: 'jwk' }) };
    const published: PublicJwk[] = [];
    let validUntil = Infinity;
    for (const k of usable) {
      this.#verify.set(k.kid, { key: createPublicKey({ key: k.publicJwk, format: 'jwk' }), alg: k.alg });
      published.push({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' });
      if (k.retiredAt !== null) validUntil = Math.min(validUntil, k.retiredAt > now ? k.retiredAt : k.retiredAt + publishFor);
    }
    this.validUntil = validUntil;
    this.#jwks = Object.freeze({ keys: published });
  }

  /** The public key for `kid`, or undefined when `kid` is not one of ours. */
  verificationKey(kid: string): KeyObject | undefined {
    return this.#verify.get(kid)?.key;
  }

  keyFor(kid: string, alg: unknown): { readonly key: KeyObject; readonly alg: SigningAlgorithm } | undefined {
    const entry = this.#verify.get(kid);
    return entry !== undefined && entry.alg === alg ? entry : undefined;
  }

  /** The RFC 7517 key set to publish. */
  jwks(): { keys: PublicJwk[] } {
    return this.#jwks;
  }
}
