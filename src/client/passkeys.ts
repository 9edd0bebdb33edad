import { startAuthentication, startRegistration } from '@simplewebauthn/browser';
import type { ClientUser } from './client-options.ts';
import type { TokenstileClient } from './client.ts';
import { TokenstileProblem } from './problem.ts';

/** One of the signed-in user's passkeys, as `GET /auth/passkeys` lists it. */
export interface ClientPasskey {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

/** What `mfa_required` carries: the pending sign-in and the second factors it accepts. */
export interface SecondFactorChallenge {
  readonly mfaToken: string;
  readonly methods: readonly ('totp' | 'recovery_code' | 'passkey')[];
}

const post = { method: 'POST', json: {} } as const;

/** The pending sign-in of an `mfa_required` answer to `login`, or null for any other failure. */
export function secondFactorOf(err: unknown): SecondFactorChallenge | null {
  if (!(err instanceof TokenstileProblem) || err.code !== 'mfa_required') return null;
  const { mfaToken, methods } = err.extensions as { mfaToken?: unknown; methods?: unknown };
  return typeof mfaToken === 'string' && Array.isArray(methods) ? { mfaToken, methods } : null;
}

/**
 * Completes a sign-in that answered `mfa_required`, with a code from the authenticator app
 * (`totp`) or a recovery code (`recovery_code`), or (`passkey`) with one of the user's passkeys.
 *
 * @example
 * try { await auth.login({ email, password }); }
 * catch (err) { const mfa = secondFactorOf(err); if (mfa) await completeSignIn(auth, mfa, 'totp', code); }
 */
export async function completeSignIn(client: TokenstileClient, challenge: SecondFactorChallenge, method: 'totp' | 'recovery_code' | 'passkey', code?: string): Promise<ClientUser> {
  if (method !== 'passkey') return client.signIn('/auth/mfa/verify', { mfaToken: challenge.mfaToken, method, code });
  const optionsJSON = await client.request<Parameters<typeof startAuthentication>[0]['optionsJSON']>('/auth/mfa/passkey/options', { method: 'POST', json: { mfaToken: challenge.mfaToken } });
  const credential = await startAuthentication({ optionsJSON });
  return client.signIn('/auth/mfa/verify', { mfaToken: challenge.mfaToken, method, credential });
}

/** Signs in with a passkey, no password: the browser asks which passkey (and for its PIN or biometrics). */
export async function signInWithPasskey(client: TokenstileClient): Promise<ClientUser> {
  const optionsJSON = await client.request<Parameters<typeof startAuthentication>[0]['optionsJSON']>('/auth/passkeys/login/options', post);
  return client.signIn('/auth/passkeys/login', { credential: await startAuthentication({ optionsJSON }) });
}

/** Creates a passkey for the signed-in user, named `name` (needs a recent sign-in: see `reauthenticate`). */
export async function addPasskey(client: TokenstileClient, name?: string): Promise<ClientPasskey> {
  const optionsJSON = await client.request<Parameters<typeof startRegistration>[0]['optionsJSON']>('/auth/passkeys/register/options', post);
  const credential = await startRegistration({ optionsJSON });
  return (await client.request<{ passkey: ClientPasskey }>('/auth/passkeys/register', { method: 'POST', json: { credential, ...(name && { name }) } })).passkey;
}

/** The signed-in user's passkeys. */
export async function listPasskeys(client: TokenstileClient): Promise<ClientPasskey[]> {
  return (await client.request<{ passkeys: ClientPasskey[] }>('/auth/passkeys')).passkeys;
}

/** Renames one of the user's passkeys. */
export async function renamePasskey(client: TokenstileClient, id: string, name: string): Promise<ClientPasskey> {
  return (await client.request<{ passkey: ClientPasskey }>(`/auth/passkeys/${encodeURIComponent(id)}`, { method: 'PATCH', json: { name } })).passkey;
}

/** Removes one of the user's passkeys (needs a recent sign-in); their other sessions end. */
export function removePasskey(client: TokenstileClient, id: string): Promise<void> {
  return client.request(`/auth/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/**
 * Proves again who the user is, for a sensitive change (`reauthentication_required`): with the
 * password, a code (`totp`, `recovery_code`) or a passkey.
 */
export async function reauthenticate(client: TokenstileClient, proof: { password: string } | { method: 'totp' | 'recovery_code'; code: string } | { method: 'passkey' }): Promise<void> {
  let json: unknown = proof;
  if ('method' in proof && proof.method === 'passkey') {
    const optionsJSON = await client.request<Parameters<typeof startAuthentication>[0]['optionsJSON']>('/auth/reauthenticate/options', post);
    json = { method: 'passkey', credential: await startAuthentication({ optionsJSON }) };
  } else if ('password' in proof) {
    json = { method: 'password', password: proof.password };
  }
  await client.request('/auth/reauthenticate', { method: 'POST', json });
}
