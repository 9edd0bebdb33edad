import type { DpopKeyStore } from './dpop-key-store.ts';
import type { ChannelLike, KeyValueStorage, LockManagerLike } from './tab-sync.ts';

/** `cookie`: tokens in HttpOnly cookies, CSRF token in storage (default). `header`: tokens in memory only. */
export type Transport = 'cookie' | 'header';

/** A user as the server shows it. */
export interface ClientUser {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  /** The user proved they receive mail at `email` (absent from servers before it was added). */
  readonly emailVerified?: boolean;
}

/** One of the signed-in user's sessions (devices), as `GET /auth/sessions` lists it. */
export interface DeviceSession {
  readonly id: string;
  readonly createdAt: string;
  readonly lastUsedAt: string;
  readonly expiresAt: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly current: boolean;
}

/** Why the client considers itself signed out. */
export type SignedOutReason = 'logout' | 'session_revoked' | 'refresh_token_reused' | 'invalid_refresh_token' | 'csrf_failed' | 'dpop_key_missing';

/** The events a client emits. */
export interface ClientEvents {
  /** The session ended: signed out here, in another tab, or by the server (revoked, reused refresh token). */
  signedout: { readonly reason: SignedOutReason | string };
  /** A session began or was refreshed (here or in another tab). */
  session: { readonly user: ClientUser; readonly sessionId: string };
}

/** Options of `createClient`; every field has a default. */
export interface TokenstileClientOptions {
  /**
   * Where Tokenstile answers, e.g. `https://auth.example.com` or `/api`. Default `''`: this origin.
   * The session's credentials (the Bearer token, the CSRF header, cookies) are sent only to this
   * URL's origin and to `trustedOrigins`.
   */
  readonly baseUrl?: string;
  /**
   * Other origins (`https://api.example.com`) that `fetch` may send the session's credentials to,
   * e.g. your API checking Tokenstile's tokens. Default none. A request to any other origin goes
   * out without them, and its answers never refresh or end the session.
   */
  readonly trustedOrigins?: readonly string[];
  /** Default `'cookie'`. */
  readonly transport?: Transport;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Where the cookie transport keeps the CSRF token for other tabs and reloads. Default `localStorage`; `null`: this page only. */
  readonly storage?: KeyValueStorage | null;
  /** Default `navigator.locks` (Web Locks): one refresh at a time across the origin's tabs. */
  readonly locks?: LockManagerLike | null;
  /** Default: a `BroadcastChannel` named after `storageKey`, which tells other tabs of refreshes and sign-outs. */
  readonly channel?: ChannelLike | null;
  /** Storage key and channel name. Default `'tokenstile'`. */
  readonly storageKey?: string;
  /** Refresh shortly before the access token expires. Default true. */
  readonly autoRefresh?: boolean;
  /** Default `Date.now`. */
  readonly now?: () => number;
  /**
   * DPoP (RFC 9449, see docs/dpop.md): `true` (or options) makes the client sign in with a
   * non-extractable ECDSA P-256 key and sign a proof for each request to Tokenstile and the
   * trusted origins, so that a token copied out of the page is refused elsewhere. Default `false`.
   */
  readonly dpop?: boolean | DpopClientOptions;
}

/** Options of the client's DPoP key. */
export interface DpopClientOptions {
  /**
   * Where the key pair is kept, under `storageKey`. Default with the cookie transport: IndexedDB
   * (`indexedDbKeyStore()`: survives reloads, shared by the origin's tabs; this page's memory where
   * IndexedDB is unavailable). Default with the header transport, whose tokens live in the page's
   * memory anyway: the page's memory (`memoryKeyStore()`).
   */
  readonly keyStore?: DpopKeyStore;
}

/** `RequestInit` plus `json`: a value sent as the JSON body. */
export type ClientRequestInit = RequestInit & { readonly json?: unknown };
