import type { TokenstileConfig } from './config.ts';
import type { AuthEvent } from './events.ts';
import type { KeyStore } from './key-store.ts';
import { generateSigningKey, Keyring, type SigningAlgorithm, type StoredSigningKey } from './keys.ts';

/**
 * How often every instance re-reads the signing keys from the store, so that a rotation made by
 * the CLI (or another instance) is picked up without a restart. The publish-ahead delay of a
 * rotation must exceed this plus the JWKS cache lifetime (`jwksMaxAgeSeconds`).
 */
export const keyReloadIntervalMs = 10_000;

/** `Cache-Control: max-age` of the published JWKS, in seconds. */
export const jwksMaxAgeSeconds = 300;

/**
 * Default delay between publishing a rotated-in key and signing with it: longer than the JWKS
 * cache lifetime plus the reload interval, so every verifier that caches the JWKS has the new key
 * before the first token signed with it reaches it.
 */
export const defaultPublishAheadMs = 10 * 60_000;

/** A signing key as `tokenstile keys list` shows it: never the private part. */
export interface KeyInfo {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly createdAt: number;
  readonly retiredAt: number | null;
  /**
   * `signing`: signs new tokens now; `next`: published ahead, signs from the outgoing key's
   * retirement on; `published`: retired, still in the JWKS for tokens it signed; `expired`: no
   * longer published (kept in the store); `other`: of an algorithm this server does not use.
   */
  readonly state: 'signing' | 'next' | 'published' | 'expired' | 'other';
  /** Until when a retired key stays in the JWKS (ms since the epoch). */
  readonly publishedUntil: number | null;
}

/** The keys with their state at `now`, oldest first. */
export function describeKeys(keys: readonly StoredSigningKey[], config: TokenstileConfig, now: number): KeyInfo[] {
  const ring = new Keyring(keys, config.signingAlgorithm, now, config.keyPublishMs);
  return keys.map((k) => {
    const publishedUntil = k.retiredAt === null ? null : k.retiredAt + config.keyPublishMs;
    const state: KeyInfo['state'] =
      k.alg !== config.signingAlgorithm
        ? 'other'
        : k.kid === ring.signing.kid
          ? 'signing'
          : k.retiredAt === null || k.retiredAt > now
            ? 'next'
            : publishedUntil! > now
              ? 'published'
              : 'expired';
    return { kid: k.kid, alg: k.alg, createdAt: k.createdAt, retiredAt: k.retiredAt, state, publishedUntil };
  });
}

/**
 * Rotates the signing key: a new key is published at once and signs from `now + publishAheadMs`;
 * the current key signs until then and stays published for `keyPublishMs` more (until every token
 * it signed has expired). Emits `key_rotated`.
 */
export async function rotateSigningKey(
  store: KeyStore,
  config: TokenstileConfig,
  now: number,
  publishAheadMs: number,
  emit: (e: AuthEvent) => void,
): Promise<{ previousKid: string | null; kid: string; signsFrom: number }> {
  if (!Number.isFinite(publishAheadMs) || publishAheadMs < 0) throw new RangeError('publishAheadMs must be a number ≥ 0');
  const before = await store.listSigningKeys();
  const previous = before.find((k) => k.alg === config.signingAlgorithm && k.retiredAt === null) ?? null;
  const next = generateSigningKey(config.signingAlgorithm, now);
  const signsFrom = now + publishAheadMs;
  const rotated = previous !== null && (await store.rotateSigningKey(next, signsFrom));
  if (!rotated && !(await store.addSigningKey(next))) throw new Error('another rotation changed the keys at the same time; list them and retry');
  emit({ type: 'key_rotated', kid: next.kid, previousKid: previous?.kid ?? '', alg: next.alg, signsFrom: new Date(signsFrom).toISOString() });
  return { previousKid: previous?.kid ?? null, kid: next.kid, signsFrom };
}
