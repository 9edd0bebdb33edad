import { randomFillSync } from 'node:crypto';

/** Fills a buffer with cryptographically secure random bytes. Injectable for tests. */
export type RandomSource = (bytes: number) => Buffer;

export const secureRandom: RandomSource = (bytes) => randomFillSync(Buffer.allocUnsafe(bytes));

const hex = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids sort by
 * creation time, which keeps the primary-key index append-mostly.
 */
export function uuidv7(ms: number, random: RandomSource = secureRandom): string {
  const bytes = random(16);
  const t = Math.max(0, Math.floor(ms));
  bytes.writeUIntBE(t, 0, 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** True for a UUID version 7 in canonical lower-case form. */
export function isUuidv7(value: string): boolean {
  return value.length === 36 && hex.test(value);
}

/** Milliseconds embedded in a UUIDv7; `NaN` when `id` is not one. */
export function uuidv7Time(id: string): number {
  if (!isUuidv7(id)) return Number.NaN;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The 16 raw bytes of a UUID string (no validation beyond length). */
export function uuidToBytes(id: string): Buffer {
  return Buffer.from(id.replaceAll('-', ''), 'hex');
}

/** The canonical text of 16 raw UUID bytes. */
export function bytesToUuid(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
