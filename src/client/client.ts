import type { ClientEvents, ClientRequestInit, ClientUser, DeviceSession, TokenstileClientOptions, Transport } from './client-options.ts';
import { ClientEventListeners, type Listener } from './client-events.ts';
import { ClientOrigins } from './client-origins.ts';
import { prepareRequest, type HeaderTokens, type SendAs } from './client-request.ts';
import { DpopProver } from './dpop.ts';
import { indexedDbKeyStore, memoryKeyStore } from './dpop-key-store.ts';
import { problemOf, toProblem, TokenstileProblem } from './problem.ts';
import { TabSync, type StoredSession, type TabMessage } from './tab-sync.ts';

/** Answers after which the session cannot go on. */
const terminal = new Set(['session_revoked', 'refresh_token_reused', 'invalid_refresh_token']);

/**
 * A `fetch` wrapper for single-page apps that talk to Tokenstile. It sends the CSRF header (cookie
 * transport) or the Bearer token (header transport), refreshes once on `token_expired` and retries,
 * shares one refresh among the tabs of the origin, and emits `signedout` when the session ends.
 *
 * @example
 * ```ts
 * import { createClient } from 'tokenstile/client';
 * const auth = createClient();
 * auth.on('signedout', ({ reason }) => showSignIn(reason));
 * await auth.login({ email, password });
 * const res = await auth.fetch('/api/orders', { method: 'POST', json: { item: 42 } });
 * ```
 */
export class TokenstileClient {
  readonly #origins: ClientOrigins;
  readonly #transport: Transport;
  readonly #fetch: typeof fetch;
  readonly #sync: TabSync;
  readonly #dpop: DpopProver | null;
  readonly #autoRefresh: boolean;
  readonly #now: () => number;
  readonly #listeners = new ClientEventListeners();
  #session: StoredSession | null;
  #tokens: HeaderTokens | null = null;
  #refreshing: Promise<boolean> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: TokenstileClientOptions = {}) {
    this.#origins = new ClientOrigins(options.baseUrl ?? '', options.trustedOrigins ?? []);
    this.#transport = options.transport ?? 'cookie';
    if (this.#transport !== 'cookie' && this.#transport !== 'header') throw new TypeError('transport must be "cookie" or "header"');
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('no fetch: pass options.fetch');
    this.#fetch = f.bind(globalThis);
    this.#now = options.now ?? Date.now;
    this.#autoRefresh = options.autoRefresh ?? true;
    const key = options.storageKey ?? 'tokenstile';
    const cookies = this.#transport === 'cookie';
    // Header mode keeps its tokens in this page's memory: nothing is shared or stored.
    this.#sync = TabSync.forPage(key, cookies, options);
    const dpop = options.dpop ?? false;
    // Header tokens live in this page's memory only: so does their key.
    this.#dpop = dpop === false ? null : new DpopProver((dpop === true ? undefined : dpop.keyStore) ?? (cookies ? indexedDbKeyStore() : memoryKeyStore()), key, this.#now);
    this.#session = this.#sync.read();
    this.#sync.listen((message) => this.#onTabMessage(message));
    this.#schedule();
  }

  /** The signed-in user as last seen, or null. A stored session may have ended elsewhere: the next request tells. */
  get user(): ClientUser | null {
    return this.#session?.user ?? null;
  }

  /** The current session's id, or null. */
  get sessionId(): string | null {
    return this.#session?.sessionId ?? null;
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof ClientEvents>(type: K, listener: Listener<K>): () => void {
    return this.#listeners.add(type, listener);
  }

  /**
   * `fetch` with the session attached. On `401 token_expired` (or, with cookies, a missing access
   * cookie: the browser drops it when it expires) it refreshes once and retries; on a refused
   * session it emits `signedout`. Never throws for an HTTP error status.
   *
   * `path` is resolved against `baseUrl` unless it is an absolute URL. A URL outside `baseUrl`'s
   * origin and `trustedOrigins` is fetched as is, without the session's credentials.
   */
  async fetch(path: string, init: ClientRequestInit = {}): Promise<Response> {
    if (!this.#origins.trusts(path)) return this.#send(path, init, 'anonymous');
    const sentWith = this.#session;
    const first = await this.#send(path, init);
    if ((first.status !== 401 && first.status !== 403) || this.#session === null) return first;
    const code = (await problemOf(first))?.code;
    if (code === 'csrf_failed') {
      // Another tab may have signed in anew since: its CSRF token is in storage.
      const stored = this.#sync.read();
      if (stored === null || stored.csrfToken === this.#session.csrfToken) return first;
      this.#adopt(stored);
      return this.#send(path, init);
    }
    if (code === 'session_revoked') {
      this.#signedOut(code, true);
      return first;
    }
    const expired = code === 'token_expired' || (this.#transport === 'cookie' && code === 'invalid_token');
    if (!expired) return first;
    // Refreshed (here or in another tab) while the request was on its way: the new token is what
    // it lacked. Refreshing again would spend a refresh token for nothing.
    const now = this.#session as StoredSession | null; // may have changed (or ended) during the awaits
    const renewed = sentWith !== null && now !== null && now.sessionId === sentWith.sessionId && now.expiresAt > sentWith.expiresAt;
    if (!renewed && !(await this.refresh())) return first;
    return this.#send(path, init);
  }

  /** `fetch`, then the JSON body; a problem answer is thrown as `TokenstileProblem`. */
  async request<T>(path: string, init: ClientRequestInit = {}): Promise<T> {
    const res = await this.fetch(path, init);
    if (!res.ok) throw await toProblem(res);
    // 204, and 202 from the routes that mail (`/auth/password/forgot`…), have no body.
    const text = res.status === 204 ? '' : await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Creates an account (it does not sign in: call `login` next). */
  async register(input: { email: string; password: string; name?: string | null }): Promise<ClientUser> {
    return (await this.#post<{ user: ClientUser }>('/auth/register', input)).user;
  }

  /** Signs in: a new session on this device. */
  login(input: { email: string; password: string }): Promise<ClientUser> {
    return this.signIn('/auth/login', input);
  }

  /**
   * Completes a sign-in that began elsewhere (a second factor, a passkey: see `passkeys.ts`):
   * posts `json` to `path` and starts the session it answers, as `login` does.
   */
  async signIn(path: string, json: unknown): Promise<ClientUser> {
    await this.#dpop?.rotate();
    const body = await this.#post<Record<string, unknown>>(path, json, this.#transport === 'cookie' ? { 'tokenstile-transport': 'cookie' } : {});
    this.#started(body);
    return this.#session!.user;
  }

  /**
   * Refreshes the access token now (one refresh at a time, shared by the origin's tabs). True when
   * the session goes on; false when it could not be refreshed (ended: `signedout` is emitted; or a
   * transient failure: the session is kept).
   */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /**
   * Checks whether the stored session still lives, with a request that never answers an error for
   * a signed-out browser (`GET /auth/refresh/status`), and refreshes when only the refresh cookie
   * does. True when the session goes on (or could not be checked: offline); false when it has
   * ended, after emitting `signedout`. Call it when a page loads, before its first request.
   * Header transport: true while the client holds tokens (no request).
   */
  async resume(): Promise<boolean> {
    const known = this.#session;
    if (known === null) return false;
    if (this.#transport === 'header') return this.#tokens !== null;
    let status: { signedIn?: unknown; refreshable?: unknown; reason?: unknown };
    try {
      const res = await this.#send('/auth/refresh/status', {}, 'sign-in');
      if (!res.ok) return true; // the server could not say (503): keep the session
      status = (await res.json()) as typeof status;
    } catch {
      return true;
    }
    if (status.signedIn === true) return true;
    if (status.refreshable === true) return this.refresh();
    // Another tab may have refreshed while this answer was on its way: its session is ours too.
    const stored = this.#sync.read();
    if (stored !== null && stored.sessionId === known.sessionId && stored.expiresAt > known.expiresAt) {
      this.#adopt(stored);
      return true;
    }
    this.#signedOut(status.reason === 'session_revoked' ? 'session_revoked' : 'invalid_refresh_token', true);
    return false;
  }

  /**
   * Takes over a session that a redirect signed in: the social sign-in callback sets the cookies
   * and sends the browser back, with no answer for the page to read. Fetches the session's CSRF
   * token and user (`GET /auth/oauth/session`), tells the other tabs, and emits `session`.
   * Cookie transport only; throws `TokenstileProblem` when the browser is not signed in.
   */
  async adoptRedirectSession(path = '/auth/oauth/session'): Promise<ClientUser> {
    if (this.#transport !== 'cookie') throw new TypeError('adoptRedirectSession needs the cookie transport');
    const res = await this.#send(path, {}, 'sign-in');
    if (!res.ok) throw await toProblem(res);
    this.#started((await res.json()) as Record<string, unknown>);
    return this.#session!.user;
  }

  /**
   * The URL that starts a sign-in by redirect (a social provider's `startUrl`, see docs/social.md):
   * with DPoP, `startUrl` plus `dpop_jkt`, the thumbprint of a new key that the session will be
   * bound to (RFC 9449 §10); without, `startUrl` as is. Navigate to it right away.
   */
  async redirectSignInUrl(startUrl: string): Promise<string> {
    if (this.#dpop === null) return startUrl;
    const url = new URL(startUrl, this.#origins.absoluteUrlOf('/'));
    url.searchParams.set('dpop_jkt', await this.#dpop.rotate());
    return /^[a-z][a-z\d+.-]*:/i.test(startUrl) ? url.href : url.pathname + url.search + url.hash;
  }

  /** Ends this session (`local`), every session (`global`) or all others (`others`), on the server. */
  async logout(scope: 'local' | 'global' | 'others' = 'local'): Promise<void> {
    await this.request<void>('/auth/logout', { method: 'POST', json: { scope } });
    if (scope !== 'others') this.#signedOut('logout', true);
  }

  /** The signed-in user (`GET /auth/me`). */
  me(): Promise<ClientUser & { sessionId: string }> {
    return this.request('/auth/me');
  }

  /** Changes the display name (`PATCH /auth/me`). */
  updateName(name: string | null): Promise<ClientUser & { sessionId: string }> {
    return this.request('/auth/me', { method: 'PATCH', json: { name } });
  }

  /** The user's live sessions (devices). */
  async sessions(): Promise<DeviceSession[]> {
    return (await this.request<{ sessions: DeviceSession[] }>('/auth/sessions')).sessions;
  }

  /** Ends one of the user's sessions. */
  endSession(id: string): Promise<void> {
    return this.request(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** Changes the password; every other session ends. */
  changePassword(currentPassword: string, newPassword: string): Promise<void> {
    return this.request('/auth/password', { method: 'POST', json: { currentPassword, newPassword } });
  }

  /** Stops the refresh timer and the tab channel. */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#sync.close();
  }

  async #post<T>(path: string, json: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.#send(path, { method: 'POST', json, headers }, 'sign-in');
    if (!res.ok) throw await toProblem(res);
    return (await res.json()) as T;
  }

  /**
   * Sends a request; unless `anonymous` (only ever for the API's origin or a trusted one) it carries
   * the session: the Bearer token, or the cookies and, on state changes, the CSRF header; and a DPoP
   * proof when the session is bound (or, signing in, whenever a key is held).
   */
  #send(path: string, init: ClientRequestInit, as: SendAs = 'session'): Promise<Response> {
    const url = this.#origins.urlOf(path);
    const { request, accessToken } = prepareRequest(init, as, { transport: this.#transport, tokens: this.#tokens, csrfToken: this.#session?.csrfToken ?? null });
    if (as === 'anonymous') return this.#fetch(url, request);
    const prove = as === 'sign-in' || this.#bound;
    if (this.#dpop === null || !prove || request.headers.has('dpop')) return this.#fetch(url, request);
    // `ath` binds the proof to the token it goes with; the cookie transport's token is out of the page's reach.
    return this.#dpop.send(this.#fetch, url, this.#origins.absoluteUrlOf(path), request, this.#tokens?.scheme === 'DPoP' ? accessToken : undefined);
  }

  /** Whether the session's tokens are bound to the DPoP key (each request then needs a proof). */
  get #bound(): boolean {
    return this.#transport === 'header' ? this.#tokens?.scheme === 'DPoP' : this.#session?.jkt !== undefined;
  }

  async #refreshOnce(): Promise<boolean> {
    if (this.#transport === 'header') return this.#refreshHeader();
    const known = this.#session;
    if (known === null) return false;
    return this.#sync.exclusive(async () => {
      const stored = this.#sync.read();
      // Another tab refreshed while this one waited for the lock: its cookies are ours too.
      if (stored !== null && stored.sessionId === known.sessionId && stored.expiresAt > known.expiresAt) {
        this.#adopt(stored);
        return true;
      }
      // Refreshed by a tab whose news has not arrived yet: the browser already has its cookies.
      if (await this.#sync.refreshedElsewhere(known)) return true;
      const csrf = (stored ?? known).csrfToken;
      let res: Response;
      try {
        res = await this.#send('/auth/refresh', { method: 'POST', headers: { 'x-csrf-token': csrf } }, 'sign-in');
      } catch {
        return false; // offline: keep the session, a later request will try again
      }
      if (res.ok) {
        const body = (await res.json()) as Record<string, unknown>;
        await this.#sync.markRefreshed(known, Number(body.expiresIn) * 1000);
        this.#started(body);
        return true;
      }
      // A cookie refresh without its session's CSRF token cannot go on either.
      return this.#refreshRefused(res, true, (code) => terminal.has(code) || code === 'csrf_failed');
    });
  }

  async #refreshHeader(): Promise<boolean> {
    if (this.#tokens === null) return false;
    let res: Response;
    try {
      res = await this.#send('/auth/refresh', { method: 'POST', json: { refreshToken: this.#tokens.refreshToken } }, 'sign-in');
    } catch {
      return false;
    }
    if (res.ok) {
      this.#started((await res.json()) as Record<string, unknown>);
      return true;
    }
    return this.#refreshRefused(res, false, (code) => terminal.has(code));
  }

  /**
   * A refused refresh: signs out when the session cannot go on: an `ending` code, or a proof refused
   * while this browser holds no key (IndexedDB cleared, or a private window's memory fallback after
   * a reload), so that no refresh can ever succeed from here. Always false.
   */
  async #refreshRefused(res: Response, tellTabs: boolean, ending: (code: string) => boolean): Promise<false> {
    const code = (await problemOf(res))?.code ?? '';
    if (ending(code)) this.#signedOut(code, tellTabs);
    else if (code === 'invalid_dpop_proof' && this.#dpop !== null && !(await this.#dpop.holdsKey())) this.#signedOut('dpop_key_missing', tellTabs);
    return false;
  }

  /** Takes the answer of a login or refresh. */
  #started(body: Record<string, unknown>): void {
    const expiresIn = Number(body.expiresIn);
    const session = body.session as { id: string };
    const user = body.user as ClientUser;
    // Bound when the server says so (tokenType `DPoP`, RFC 9449 §5) to the key that signed the proof.
    const jkt = body.tokenType === 'DPoP' ? (this.#dpop?.thumbprint ?? undefined) : undefined;
    if (this.#transport === 'header') {
      this.#tokens = { accessToken: String(body.accessToken), refreshToken: String(body.refreshToken), scheme: jkt !== undefined ? 'DPoP' : 'Bearer' };
      this.#session = { sessionId: session.id, csrfToken: '', expiresAt: this.#now() + expiresIn * 1000, user };
    } else {
      const generation = Math.random().toString(36).slice(2);
      this.#session = { sessionId: session.id, csrfToken: String(body.csrfToken), expiresAt: this.#now() + expiresIn * 1000, user, generation, ...(jkt !== undefined && { jkt }) };
      this.#sync.publish(this.#session);
    }
    this.#schedule();
    this.#listeners.emit('session', { user, sessionId: session.id });
  }

  #adopt(session: StoredSession): void {
    this.#dpop?.follow(session.jkt);
    this.#session = session;
    this.#schedule();
    this.#listeners.emit('session', { user: session.user, sessionId: session.sessionId });
  }

  #signedOut(reason: string, tellTabs: boolean): void {
    const had = this.#session !== null;
    this.#session = null;
    this.#tokens = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    // The ended session's key is deleted by the tab that ends it; the others only let go of it.
    void this.#dpop?.forget(tellTabs || this.#transport === 'header').catch(() => {});
    if (tellTabs) this.#sync.signedOut(reason);
    if (had) this.#listeners.emit('signedout', { reason });
  }

  #onTabMessage(message: TabMessage): void {
    if (message.type === 'signedout') this.#signedOut(message.reason, false);
    else this.#adopt(message.session);
  }

  /** Refreshes a little before expiry: a fifth of the lifetime ahead, between 1 s and 60 s. */
  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#autoRefresh || this.#session === null) return;
    const left = this.#session.expiresAt - this.#now();
    const margin = Math.min(60_000, Math.max(1000, left / 5));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.refresh().then((ok) => {
        // A transient failure: try again shortly while the session lasts.
        if (!ok && this.#session !== null && this.#timer === null) this.#timer = setTimeout(() => void this.refresh(), 5000);
      });
    }, Math.max(0, left - margin));
    (this.#timer as { unref?: () => void }).unref?.();
  }
}

/** A client for Tokenstile at `options.baseUrl` (default: this origin), cookie transport by default. */
export function createClient(options: TokenstileClientOptions = {}): TokenstileClient {
  return new TokenstileClient(options);
}

export { TokenstileProblem };
