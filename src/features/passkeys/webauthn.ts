import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

let library: Promise<typeof import('@simplewebauthn/server')> | null = null;
/** The library, loaded on first use: importing the package loads no dependency. */
const simplewebauthn = () => (library ??= import('@simplewebauthn/server'));

/**
 * WebAuthn through `@simplewebauthn/server`: what Tokenstile asks of the browser and how it checks
 * the answers. The challenge is a one-time token of ours (single use, short-lived, stored hashed),
 * sent as the challenge's bytes, so the answer names the token it was made for.
 */

/** Who the relying party is: its id (the issuer's host) and the origins a ceremony may run on. */
export interface RelyingParty {
  readonly id: string;
  readonly name: string;
  readonly origins: readonly string[];
}

/** The relying party of `issuer`, with `origins` (the browser settings' allowed origins). */
export function relyingParty(issuer: string, origins: Iterable<string>): RelyingParty {
  const url = new URL(issuer);
  return { id: url.hostname, name: url.host, origins: [...new Set([url.origin, ...origins])] };
}

/** A stored passkey, as the ceremonies need it. */
export interface PasskeyKey {
  /** The WebAuthn credential id, base64url. */
  readonly credentialId: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: readonly string[];
}

/** What a verified registration yields, to store. */
export interface NewPasskey extends PasskeyKey {
  readonly backedUp: boolean;
  readonly deviceType: string;
}

const timeoutMs = 5 * 60_000;
/** EdDSA, ES256, RS256: named, so the library does not probe the runtime for post-quantum ones (an experimental warning on Node 24). */
const algorithms = [-8, -7, -257];

/** Options for `navigator.credentials.create()`: a discoverable credential, the user's others excluded. */
export async function creationOptions(
  rp: RelyingParty,
  user: { readonly id: string; readonly email: string; readonly name: string | null },
  challenge: string,
  existing: readonly PasskeyKey[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { generateRegistrationOptions } = await simplewebauthn();
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.name ?? user.email,
    // The user handle is the user id: a passkey sign-in names its user without a password.
    userID: new TextEncoder().encode(user.id),
    challenge,
    timeout: timeoutMs,
    attestationType: 'none',
    excludeCredentials: existing.map((k) => ({ id: k.credentialId, transports: k.transports as AuthenticatorTransport[] })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    supportedAlgorithmIDs: algorithms,
  });
}

/**
 * Options for `navigator.credentials.get()`; `allow`: the user's passkeys (second factor), or none
 * (passkey sign-in, which asks the authenticator to verify the user: `required`).
 */
export async function requestOptions(rp: RelyingParty, challenge: string, allow: readonly PasskeyKey[] = [], userVerification: 'required' | 'preferred' = 'preferred'): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { generateAuthenticationOptions } = await simplewebauthn();
  return generateAuthenticationOptions({
    rpID: rp.id,
    challenge,
    timeout: timeoutMs,
    userVerification,
    allowCredentials: allow.map((k) => ({ id: k.credentialId, transports: k.transports as AuthenticatorTransport[] })),
  });
}

/**
 * The challenge an answer was made for, as the string we issued (our one-time token), read from
 * its client data; null when the answer is not shaped like one. Nothing is verified yet.
 */
export function challengeOf(response: unknown): string | null {
  try {
    const data = (response as { response?: { clientDataJSON?: unknown } }).response?.clientDataJSON;
    if (typeof data !== 'string' || data.length > 4096) return null;
    const challenge = (JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as { challenge?: unknown }).challenge;
    return typeof challenge === 'string' && challenge.length <= 256 ? Buffer.from(challenge, 'base64url').toString('utf8') : null;
  } catch {
    return null;
  }
}

/** The base64url form of our challenge string, as it appears in client data. */
const encoded = (challenge: string) => Buffer.from(challenge, 'utf8').toString('base64url');

/** Checks a registration answer for `challenge`; the new passkey, or null when it does not verify. */
export async function checkRegistration(rp: RelyingParty, response: unknown, challenge: string): Promise<NewPasskey | null> {
  const { verifyRegistrationResponse } = await simplewebauthn();
  try {
    const r = await verifyRegistrationResponse({
      response: response as RegistrationResponseJSON,
      expectedChallenge: encoded(challenge),
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.id,
      requireUserVerification: false,
      supportedAlgorithmIDs: algorithms,
    });
    if (!r.verified) return null;
    const { credential, credentialBackedUp, credentialDeviceType } = r.registrationInfo;
    return {
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: credential.transports ?? [],
      backedUp: credentialBackedUp,
      deviceType: credentialDeviceType,
    };
  } catch {
    // Malformed or forged: the library throws; to the client it is one refusal.
    return null;
  }
}

/**
 * Checks a sign-in answer for `challenge` against the stored passkey (signature, origin, rp id,
 * a counter that moved on, the user verified when `requireUserVerification`); the new counter and
 * whether the user was verified, or null.
 */
export async function checkAssertion(rp: RelyingParty, response: unknown, challenge: string, key: PasskeyKey, requireUserVerification = false): Promise<{ counter: number; userVerified: boolean } | null> {
  const { verifyAuthenticationResponse } = await simplewebauthn();
  try {
    const r = await verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      expectedChallenge: encoded(challenge),
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.id,
      credential: { id: key.credentialId, publicKey: Buffer.from(key.publicKey, 'base64url'), counter: key.counter, transports: key.transports as AuthenticatorTransport[] },
      requireUserVerification,
    });
    return r.verified ? { counter: r.authenticationInfo.newCounter, userVerified: r.authenticationInfo.userVerified } : null;
  } catch {
    return null;
  }
}
