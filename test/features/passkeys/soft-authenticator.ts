// A software WebAuthn authenticator, written from the WebAuthn Level 2 spec with node:crypto, so
// that the server's passkey routes can be driven over plain HTTP: ES256 credentials, "none"
// attestation, discoverable (it keeps the user handle), user presence and verification flags set.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/** A minimal CBOR encoder (RFC 8949): unsigned/negative integers, byte and text strings, maps. */
function cbor(value: unknown): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  throw new TypeError(`cbor: cannot encode ${typeof value}`);
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const b64u = (b: Buffer) => b.toString('base64url');

interface StoredCredential {
  readonly id: Buffer;
  readonly rpId: string;
  readonly userHandle: string;
  readonly privateKey: KeyObject;
  signCount: number;
}

/** Options that a test may change to forge a response. */
export interface Forgery {
  readonly origin?: string;
  readonly rpId?: string;
  readonly challenge?: string;
  readonly type?: string;
  /** Signs with another key than the credential's. */
  readonly wrongKey?: boolean;
  /** Reports this signature counter instead of the next one. */
  readonly signCount?: number;
  /** An authenticator that shows presence only (no PIN or biometrics): the UV flag is clear. */
  readonly noUserVerification?: boolean;
  /** Answers this user handle (base64url) instead of the credential's; null for none. */
  readonly userHandle?: string | null;
}

/** Registration options as the server sends them (the JSON form). */
interface CreationOptions {
  readonly challenge: string;
  readonly rp: { readonly id?: string; readonly name: string };
  readonly user: { readonly id: string; readonly name: string };
}

/** Request options as the server sends them (the JSON form). */
interface RequestOptions {
  readonly challenge: string;
  readonly rpId?: string;
  readonly allowCredentials?: ReadonlyArray<{ readonly id: string }>;
}

/** One authenticator holding any number of credentials, as a security key or a platform passkey. */
export class SoftAuthenticator {
  readonly credentials: StoredCredential[] = [];
  readonly #origin: string;

  /** `origin`: the page the browser would be on (e.g. the issuer's origin). */
  constructor(origin: string) {
    this.#origin = origin;
  }

  /** What `navigator.credentials.create()` answers, as `@simplewebauthn/browser` serializes it. */
  register(options: CreationOptions, forge: Forgery = {}): Record<string, unknown> {
    const rpId = options.rp.id ?? new URL(this.#origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const id = randomBytes(16);
    const cose = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([sha256(forge.rpId ?? rpId), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), idLength, id, cose]);
    const clientData = this.#clientData('webauthn.create', options.challenge, forge);
    const attestationObject = cbor(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    this.credentials.push({ id, rpId, userHandle: options.user.id, privateKey, signCount: 0 });
    return {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key',
      response: { clientDataJSON: b64u(clientData), attestationObject: b64u(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** What `navigator.credentials.get()` answers: an assertion by the first matching credential. */
  authenticate(options: RequestOptions, forge: Forgery = {}): Record<string, unknown> {
    const rpId = options.rpId ?? new URL(this.#origin).hostname;
    const allowed = options.allowCredentials?.map((c) => c.id);
    const credential = this.credentials.find((c) => c.rpId === rpId && (!allowed || allowed.length === 0 || allowed.includes(b64u(c.id))));
    if (!credential) throw new Error('SoftAuthenticator: no credential for this request');
    credential.signCount += 1;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(forge.signCount ?? credential.signCount);
    const authData = Buffer.concat([sha256(forge.rpId ?? rpId), Buffer.from([forge.noUserVerification ? 0x01 : 0x05]), count]);
    const clientData = this.#clientData('webauthn.get', options.challenge, forge);
    const key = forge.wrongKey ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : credential.privateKey;
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), key);
    return {
      id: b64u(credential.id),
      rawId: b64u(credential.id),
      type: 'public-key',
      response: { clientDataJSON: b64u(clientData), authenticatorData: b64u(authData), signature: b64u(signature), ...(forge.userHandle !== null && { userHandle: forge.userHandle ?? credential.userHandle }) },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  #clientData(type: string, challenge: string, forge: Forgery): Buffer {
    return Buffer.from(JSON.stringify({ type: forge.type ?? type, challenge: forge.challenge ?? challenge, origin: forge.origin ?? this.#origin, crossOrigin: false }));
  }
}
