import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RandomSource } from './ids.ts';

/** How long a device proof is honoured after it was issued (it is re-issued at every sign-in). */
export const deviceProofLifetimeMs = 365 * 86_400_000;

const tagLength = 16;

/**
 * Proofs that a device has signed in to an account before ("device cookies", as OWASP calls
 * them): `v1.<device id>.<issued, s>.<tag>`, the tag an HMAC of the account, device id and time
 * under a key of this server. They let the sign-in throttle tell the owner's devices from a
 * guesser, so a flood of wrong passwords from elsewhere cannot lock the owner out. Stateless:
 * every instance sharing the key checks them, and nothing is stored. A proof is not a credential:
 * the password is still checked; it only decides which attempt counter applies.
 */
export class DeviceProofs {
  readonly #key: Buffer;
  readonly #random: RandomSource;

  /** `key`: at least 32 bytes, used for nothing else. */
  constructor(key: Buffer, random: RandomSource) {
    if (key.length < 32) throw new Error('device proof key must be at least 32 bytes');
    this.#key = key;
    this.#random = random;
  }

  #tag(account: string, deviceId: string, issued: string): Buffer {
    return createHmac('sha256', this.#key).update(`device:${account}\n${deviceId}\n${issued}`).digest().subarray(0, tagLength);
  }

  /** A proof for `account` (a normalized email) issued at `now`, for `deviceId` or a new device. */
  issue(account: string, now: number, deviceId: string = this.#random(16).toString('base64url')): string {
    const issued = String(Math.floor(now / 1000));
    return `v1.${deviceId}.${issued}.${this.#tag(account, deviceId, issued).toString('base64url')}`;
  }

  /** The device id a proof names when it was issued for `account` and is not too old; else null. */
  verify(account: string, proof: unknown, now: number): string | null {
    if (typeof proof !== 'string' || proof.length > 128) return null;
    const [version, deviceId, issued, tag, extra] = proof.split('.');
    if (version !== 'v1' || extra !== undefined || !deviceId || !issued || !tag || !/^[A-Za-z0-9_-]{22}$/.test(deviceId) || !/^\d{1,12}$/.test(issued)) return null;
    const given = Buffer.from(tag, 'base64url');
    if (given.length !== tagLength || !timingSafeEqual(given, this.#tag(account, deviceId, issued))) return null;
    const age = now - Number(issued) * 1000;
    return age >= -60_000 && age <= deviceProofLifetimeMs ? deviceId : null;
  }
}

/** The key of the device proofs, derived from another server secret (domain-separated). */
export function deviceProofKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('tokenstile/device-proof/v1').digest();
}
