/**
 * `tokenstile/client`: a `fetch` wrapper for browser apps that sign in with Tokenstile (see
 * docs/browser.md), with DPoP on request (jose, loaded on first use: see docs/dpop.md), and
 * second-factor and passkey helpers built on `@simplewebauthn/browser` (see docs/mfa.md).
 *
 * @example
 * ```ts
 * import { createClient } from 'tokenstile/client';
 * const auth = createClient(); // cookie transport, same origin
 * auth.on('signedout', ({ reason }) => location.assign('/account'));
 * await auth.login({ email, password });
 * const me = await auth.me();
 * ```
 */
export { createClient, TokenstileClient } from './client.ts';
export type { ClientEvents, ClientRequestInit, ClientUser, DeviceSession, DpopClientOptions, SignedOutReason, TokenstileClientOptions, Transport } from './client-options.ts';
export { indexedDbKeyStore, memoryKeyStore, type DpopKeyPair, type DpopKeyStore, type WebCryptoKey } from './dpop-key-store.ts';
export { TokenstileProblem, type ProblemBody } from './problem.ts';
export type { ChannelLike, KeyValueStorage, LockManagerLike } from './tab-sync.ts';
export {
  addPasskey,
  completeSignIn,
  listPasskeys,
  reauthenticate,
  removePasskey,
  renamePasskey,
  secondFactorOf,
  signInWithPasskey,
  type ClientPasskey,
  type SecondFactorChallenge,
} from './passkeys.ts';
