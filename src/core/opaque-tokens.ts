import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { bytesToUuid, isUuidv7, uuidToBytes } from './ids.ts';

/*
 * An opaque access handle (TOKENSTILE_ACCESS_TOKEN_FORMAT=opaque) is `tsa_` + base64url of:
 *   version (1 byte) | session id (16) | user id (16) | secret (32) | tag (16)
 * It carries no claims, only the two ids that address the session row (and its cache scope); the
 * row maps it, by SHA-256 of the secret, to the session, or to nothing once replaced. The tag
 * (HMAC-SHA256 under a server key) rejects garbage and guesses before any lookup, so a flood of
 * made-up handles never reaches the store.
 *
 * The secret is derived from the refresh token it was issued with (HMAC under a second server
 * key). A retry inside the refresh grace window, which gets the same successor refresh token,
 * therefore gets the same handle too: racing tabs end up holding one valid handle, not two.
 */
const prefix = 'tsa_';
const version = 1;
const secretLength = 32;
const tagLength = 16;
const bodyLength = 1 + 16 + 16 + secretLength;
const encodedLength = prefix.length + Math.ceil(((bodyLength + tagLength) * 4) / 3);

/** True when `token` looks like an opaque handle (a cheap test to pick the verifier; not a check). */
export function isOpaqueHandle(token: string): boolean {
  return token.startsWith(prefix);
}

export interface OpaqueHandleParts {
  readonly sessionId: string;
  readonly userId: string;
  /** SHA-256 of the handle's secret, base64url: what the session row stores. */
  readonly hash: string;
}

/** Mints opaque access handles and recognises the ones we issued (MAC checked in constant time). */
export class OpaqueTokenCodec {
  // KeyObjects: HMAC under a raw Buffer key costs several times more per call (OpenSSL 3 imports
  // the key every time), and the tag is checked on every request in opaque mode.
  readonly #tagKey: KeyObject;
  readonly #deriveKey: KeyObject;
  // Handles whose tag verified, so a client's next request with the same handle skips the HMAC
  // and the hash (bounded, oldest first out; only genuine handles get in, so garbage cannot fill it).
  readonly #known = new Map<string, OpaqueHandleParts>();
  readonly #knownLimit: number;

  /**
   * @param serverKey at least 32 secret bytes; the tag and derivation keys are derived from it.
   * @param rememberLimit how many recognised handles to remember; 0 turns that off.
   */
  constructor(serverKey: Buffer, rememberLimit = 10_000) {
    this.#knownLimit = rememberLimit;
    if (serverKey.length < 32) throw new Error('opaque-token key must be at least 32 bytes');
    this.#tagKey = createSecretKey(createHmac('sha256', serverKey).update('tokenstile/opaque-access/tag/v1').digest());
    this.#deriveKey = createSecretKey(createHmac('sha256', serverKey).update('tokenstile/opaque-access/secret/v1').digest());
  }

  /** The hash to store for the handle that goes with `refreshToken` (what `mint` returns as `hash`). */
  hashFor(refreshToken: string): string {
    return hashSecret(this.#secretFor(refreshToken));
  }

  #secretFor(refreshToken: string): Buffer {
    return createHmac('sha256', this.#deriveKey).update(refreshToken).digest();
  }

  /** The handle issued for the session along with `refreshToken`, and the hash to store. */
  mint(sessionId: string, userId: string, refreshToken: string): { token: string; hash: string } {
    const secret = this.#secretFor(refreshToken);
    const body = Buffer.alloc(bodyLength);
    body[0] = version;
    uuidToBytes(sessionId).copy(body, 1);
    uuidToBytes(userId).copy(body, 17);
    secret.copy(body, 33);
    return { token: prefix + Buffer.concat([body, this.#tag(body)]).toString('base64url'), hash: hashSecret(secret) };
  }

  /** The ids and secret hash of a handle we issued; null for anything else. */
  parse(token: string): OpaqueHandleParts | null {
    if (token.length !== encodedLength || !token.startsWith(prefix)) return null;
    const known = this.#known.get(token);
    if (known !== undefined) return known;
    const encoded = token.slice(prefix.length);
    const raw = Buffer.from(encoded, 'base64url');
    if (raw.length !== bodyLength + tagLength || raw[0] !== version) return null;
    // One spelling per handle: non-canonical base64url is refused like any other garbage.
    if (raw.toString('base64url') !== encoded) return null;
    const body = raw.subarray(0, bodyLength);
    if (!timingSafeEqual(raw.subarray(bodyLength), this.#tag(body))) return null;
    const sessionId = bytesToUuid(body.subarray(1, 17));
    const userId = bytesToUuid(body.subarray(17, 33));
    if (!isUuidv7(sessionId) || !isUuidv7(userId)) return null;
    const parts = Object.freeze({ sessionId, userId, hash: hashSecret(body.subarray(33)) });
    if (this.#knownLimit > 0) {
      if (this.#known.size >= this.#knownLimit) this.#known.delete(this.#known.keys().next().value!);
      this.#known.set(token, parts);
    }
    return parts;
  }

  #tag(body: Buffer): Buffer {
    return createHmac('sha256', this.#tagKey).update(body).digest().subarray(0, tagLength);
  }
}

function hashSecret(secret: Buffer): string {
  return createHash('sha256').update(secret).digest('base64url');
}
