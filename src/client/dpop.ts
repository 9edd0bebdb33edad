import type { DpopKeyPair, DpopKeyStore } from './dpop-key-store.ts';

type Jose = typeof import('./dpop-jose.ts');
let jose: Promise<Jose> | null = null;
/** jose, loaded on first use (see dpop-jose.ts). */
const loadJose = (): Promise<Jose> => (jose ??= import('./dpop-jose.ts'));

/** A key pair with what every proof repeats: its public JWK and RFC 7638 thumbprint. */
interface HeldKey {
  readonly keys: DpopKeyPair;
  readonly jwk: Record<string, unknown>;
  readonly jkt: string;
}

/** A request as the prover sends it (headers already built by the client). */
export interface ProvenRequest extends RequestInit {
  readonly method: string;
  readonly headers: Headers;
}

type Subtle = typeof crypto.subtle;

function subtle(): Subtle {
  const s = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!s) throw new TypeError('DPoP needs WebCrypto (crypto.subtle): serve the page over HTTPS or from localhost');
  return s;
}

/** Whether `fetch` can send `body` twice (a stream is read once). */
function replayable(body: RequestInit['body']): boolean {
  return body === undefined || body === null || typeof (body as { getReader?: unknown }).getReader !== 'function';
}

/**
 * Whether an answer is a server's nonce challenge (RFC 9449 §8, §9): `401` with
 * `WWW-Authenticate: DPoP error="use_dpop_nonce"` from a protected route, or `400` whose body's
 * `code` (problem+json) or `error` (OAuth) is `use_dpop_nonce` from a sign-in route.
 */
async function asksForNonce(res: Response): Promise<boolean> {
  if (res.status === 401) return /\bDPoP\b[^]*\berror="use_dpop_nonce"/i.test(res.headers.get('www-authenticate') ?? '');
  if (res.status !== 400 || !/json/.test(res.headers.get('content-type') ?? '')) return false;
  try {
    const body = (await res.clone().json()) as { code?: unknown; error?: unknown };
    return body?.code === 'use_dpop_nonce' || body?.error === 'use_dpop_nonce';
  } catch {
    return false;
  }
}

/**
 * The browser side of DPoP (RFC 9449): holds the client's ECDSA P-256 key pair (private key not
 * extractable) in a `DpopKeyStore`, signs a proof for each request, and remembers each server's
 * latest `DPoP-Nonce`. Every sign-in starts with a new pair (`rotate`), and a sign-out deletes it
 * (`forget`), so that no two sessions share a key.
 */
export class DpopProver {
  readonly #store: DpopKeyStore;
  readonly #name: string;
  readonly #now: () => number;
  #held: Promise<HeldKey | null> | null = null;
  /** The thumbprint of the settled key in use, or null. */
  #jkt: string | null = null;
  /** Store writes in the order they were asked for (a sign-out's delete before the next sign-in's key). */
  #writes: Promise<unknown> = Promise.resolve();
  readonly #nonces = new Map<string, string>();
  #ath: { token: string; value: Promise<string> } | null = null;

  constructor(store: DpopKeyStore, name: string, now: () => number) {
    subtle();
    this.#store = store;
    this.#name = name;
    this.#now = now;
  }

  /** The RFC 7638 thumbprint of the key in use (after a sign-in or a first proof), or null. */
  get thumbprint(): string | null {
    return this.#jkt;
  }

  /** Makes a new key pair, stores it in place of any other and uses it from now on; resolves to its thumbprint. */
  async rotate(): Promise<string> {
    const next = (async () => {
      const keys = (await subtle().generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as DpopKeyPair;
      const held = await this.#describe(keys);
      await this.#write(() => this.#store.set(this.#name, keys));
      return held;
    })();
    this.#held = next;
    try {
      const held = (await next)!;
      if (this.#held === next) this.#jkt = held.jkt;
      return held.jkt;
    } catch (err) {
      if (this.#held === next) this.#held = null;
      throw err;
    }
  }

  /** Whether a key is held (in memory, or in the store). */
  async holdsKey(): Promise<boolean> {
    return (await this.#current()) !== null;
  }

  /** Stops using the key in memory; with `deleteStored`, also deletes it from the store (a sign-out). */
  forget(deleteStored: boolean): Promise<void> {
    this.#held = null;
    this.#jkt = null;
    this.#ath = null;
    return deleteStored ? this.#write(() => this.#store.delete(this.#name)) : Promise.resolve();
  }

  /** Takes up the stored key when it is not the one with thumbprint `jkt` (another tab signed in anew). */
  follow(jkt: string | undefined): void {
    if (jkt !== undefined && jkt !== this.#jkt) {
      this.#held = null;
      this.#jkt = null;
    }
  }

  /**
   * Sends a request to `url` (absolute: `target`) with a fresh proof for it (`ath` bound to `accessToken` when given), remembers
   * the answer's `DPoP-Nonce`, and retries once with it when the answer is a nonce challenge. Sends
   * the request without a proof while no key is held (nothing signed in with DPoP yet).
   */
  async send(send: typeof fetch, url: string, target: string, init: ProvenRequest, accessToken?: string): Promise<Response> {
    const origin = new URL(target).origin;
    for (let attempt = 0; ; attempt++) {
      const used = this.#nonces.get(origin);
      const proof = await this.proof(init.method, target, accessToken);
      if (proof === null) return send(url, init);
      init.headers.set('dpop', proof);
      const res = await send(url, init);
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.#nonces.set(origin, nonce);
      if (attempt > 0 || !nonce || nonce === used || !replayable(init.body) || !(await asksForNonce(res))) return res;
      await res.body?.cancel().catch(() => {});
    }
  }

  /** A DPoP proof JWT for `method` on absolute `url`, or null while no key is held. */
  async proof(method: string, url: string, accessToken?: string): Promise<string | null> {
    const held = await this.#current();
    if (held === null) return null;
    const { SignJWT, base64url } = await loadJose();
    const target = new URL(url);
    const nonce = this.#nonces.get(target.origin);
    const claims = { htm: method, htu: target.origin + target.pathname, ...(accessToken !== undefined && { ath: await this.#athOf(accessToken) }), ...(nonce !== undefined && { nonce }) };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: held.jwk })
      .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
      .setIssuedAt(Math.floor(this.#now() / 1000))
      .sign(held.keys.privateKey);
  }

  /** The key in memory, else the stored one (null when there is none: not kept as an answer). */
  async #current(): Promise<HeldKey | null> {
    const pending = (this.#held ??= this.#store.get(this.#name).then((keys) => (keys === null ? null : this.#describe(keys))));
    let held: HeldKey | null;
    try {
      held = await pending;
    } catch {
      held = null; // an unreadable store: as if no key
    }
    if (this.#held === pending) {
      if (held === null) this.#held = null;
      else this.#jkt = held.jkt;
    }
    return held;
  }

  async #describe(keys: DpopKeyPair): Promise<HeldKey> {
    const { exportJWK, calculateJwkThumbprint } = await loadJose();
    const { kty, crv, x, y } = await exportJWK(keys.publicKey);
    const jwk = { kty, crv, x, y };
    return { keys, jwk, jkt: await calculateJwkThumbprint(jwk as { kty: string }, 'sha256') };
  }

  /** `ath`: base64url(SHA-256(access token)), computed once per token. */
  #athOf(token: string): Promise<string> {
    if (this.#ath?.token !== token) {
      const value = Promise.all([loadJose(), subtle().digest('SHA-256', new TextEncoder().encode(token))]).then(([{ base64url }, hash]) => base64url.encode(new Uint8Array(hash)));
      this.#ath = { token, value };
    }
    return this.#ath.value;
  }

  #write(act: () => Promise<void>): Promise<void> {
    const done = this.#writes.then(act, act);
    this.#writes = done.catch(() => {});
    return done;
  }
}
