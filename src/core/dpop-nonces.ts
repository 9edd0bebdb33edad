import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long one nonce slot lasts: a nonce is accepted in its slot and the next (5 to 10 minutes). */
export const nonceSlotMs = 5 * 60_000;

const tagLength = 16;

/**
 * Server nonces for DPoP proofs (RFC 9449 §8), stateless: `<slot>.<tag>`, the tag an HMAC of the
 * time slot under a key of this server, so that every instance sharing the key issues and accepts
 * the same nonces without storing any. The current and the previous slot's nonces are accepted.
 * A nonce limits how long a proof made in advance (on a device the attacker briefly controlled)
 * stays usable; replays are refused by the `jti` check, not by the nonce.
 */
export class DpopNonces {
  readonly #key: Buffer;
  readonly #now: () => number;
  #cached: { slot: number; nonce: string } | null = null;

  /**
   * `secret`: at least 32 bytes (or characters), used for nothing else, the same on every instance
   * that must accept the nonces; `now` in ms (default `Date.now`).
   */
  constructor(secret: Buffer | string, now: () => number = Date.now) {
    const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (key.length < 32) throw new Error('DpopNonces: the secret must be at least 32 bytes');
    this.#key = key;
    this.#now = now;
  }

  #tag(slot: number): Buffer {
    return createHmac('sha256', this.#key).update(`dpop-nonce:${slot}`).digest().subarray(0, tagLength);
  }

  #nonceOf(slot: number): string {
    return `${slot.toString(36)}.${this.#tag(slot).toString('base64url')}`;
  }

  /** The nonce to hand out now (the same one for a whole slot). */
  current(): string {
    const slot = Math.floor(this.#now() / nonceSlotMs);
    if (this.#cached?.slot !== slot) this.#cached = { slot, nonce: this.#nonceOf(slot) };
    return this.#cached.nonce;
  }

  /** True for a nonce of the current or the previous slot. */
  valid(nonce: string): boolean {
    if (nonce.length > 64) return false;
    const dot = nonce.indexOf('.');
    if (dot <= 0) return false;
    const slot = Number.parseInt(nonce.slice(0, dot), 36);
    const current = Math.floor(this.#now() / nonceSlotMs);
    if (!(slot === current || slot === current - 1) || nonce.slice(0, dot) !== slot.toString(36)) return false;
    const given = Buffer.from(nonce.slice(dot + 1), 'base64url');
    return given.length === tagLength && timingSafeEqual(given, this.#tag(slot));
  }
}

/** The nonce key, derived from another server secret (domain-separated). */
export function dpopNonceKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('tokenstile/dpop-nonce/v1').digest();
}
