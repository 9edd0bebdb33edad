import type { TokenstileConfig } from './config.ts';
import type { AuthEvent } from './events.ts';
import type { KeyStore } from './key-store.ts';
import { TokenstileError } from './errors.ts';
import { generateSigningKey, Keyring, signingOrder, type SigningAlgorithm, type StoredSigningKey } from './keys.ts';

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
 * A rotation refused because another is pending: `pendingKid` is published and waits to sign
 * from `signsFrom`, when `signingKid` retires. `tokenstile keys rotate --force` replaces it.
 */
export class RotationPendingError extends TokenstileError {
  readonly signingKid: string;
  readonly pendingKid: string;
  readonly signsFrom: number;
  constructor(signingKid: string, pendingKid: string, signsFrom: number) {
    super(
      'invalid_request',
      `a rotation is pending: ${pendingKid} signs from ${new Date(signsFrom).toISOString()}, when ${signingKid} retires; rotate again after that, or with force (--force) to replace ${pendingKid}, which has not signed yet`,
    );
    this.signingKid = signingKid;
    this.pendingKid = pendingKid;
    this.signsFrom = signsFrom;
  }
}

/** What a rotation did: `kid` signs from `signsFrom`, when `previousKid` retires. */
export interface RotationResult {
  readonly previousKid: string | null;
  readonly kid: string;
  readonly signsFrom: number;
  /** Pending keys a forced rotation removed before they ever signed. */
  readonly replaced: readonly string[];
}

/**
 * Rotates the signing key: a new key is published at once and signs from `now + publishAheadMs`;
 * the key signing now signs until then and stays published for `keyPublishMs` more (until every
 * token it signed has expired). Emits `key_rotated`.
 *
 * While a rotation is pending (a published key waits for the signing key's retirement), throws
 * `RotationPendingError`, unless `force`: then the pending keys, which have not signed, are removed,
 * and the signing key's retirement moves to `now + publishAheadMs`, when the new key takes over.
 * Either way the result states the true schedule.
 */
export async function rotateSigningKey(
  store: KeyStore,
  config: TokenstileConfig,
  now: number,
  publishAheadMs: number,
  emit: (e: AuthEvent) => void,
  options: { force?: boolean } = {},
): Promise<RotationResult> {
  if (!Number.isFinite(publishAheadMs) || publishAheadMs < 0) throw new RangeError('publishAheadMs must be a number ≥ 0');
  const [signing, ...pending] = signingOrder(await store.listSigningKeys(), config.signingAlgorithm, now);
  const next = generateSigningKey(config.signingAlgorithm, now);
  const signsFrom = signing ? now + publishAheadMs : now;
  if (signing && pending.length > 0 && !options.force) throw new RotationPendingError(signing.kid, pending.at(-1)!.kid, signing.retiredAt!);
  const applied = signing
    ? await store.changeSigningKeys({ remove: pending.map((k) => k.kid), retire: [{ kid: signing.kid, from: signing.retiredAt, to: signsFrom }], add: [next] })
    : await store.addSigningKey(next);
  if (!applied) throw new Error('another rotation changed the keys at the same time; list them and retry');
  const replaced = pending.map((k) => k.kid);
  emit({
    type: 'key_rotated',
    kid: next.kid,
    previousKid: signing?.kid ?? '',
    alg: next.alg,
    signsFrom: new Date(signsFrom).toISOString(),
    ...(replaced.length > 0 ? { replaced: replaced.join(',') } : {}),
  });
  return { previousKid: signing?.kid ?? null, kid: next.kid, signsFrom, replaced };
}
