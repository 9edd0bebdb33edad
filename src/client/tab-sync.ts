import { globalValue } from './client-origins.ts';
/** What the client needs of `localStorage` (the cookie transport keeps its CSRF token there). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** What the client needs of the Web Locks API (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
  /** The held locks, as `navigator.locks.query()`; without it a tab whose storage lags may refresh twice. */
  query?(): Promise<{ held?: ReadonlyArray<{ name?: string }> }>;
}

/** What the client needs of a `BroadcastChannel`. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** The browser session as every tab of the origin sees it. */
export interface StoredSession {
  readonly sessionId: string;
  readonly csrfToken: string;
  /** When the access cookie expires, ms since the epoch (this browser's clock). */
  readonly expiresAt: number;
  readonly user: { readonly id: string; readonly email: string; readonly name: string | null };
  /** Tells one login or refresh from the next (random; absent in sessions stored by older versions). */
  readonly generation?: string;
  /** The thumbprint of the session's DPoP key (absent without DPoP): a tab holding another key takes up the stored one. */
  readonly jkt?: string;
}

/** Messages between tabs. */
export type TabMessage =
  | { readonly type: 'session'; readonly session: StoredSession }
  | { readonly type: 'signedout'; readonly reason: string };

/**
 * Keeps the tabs of one origin in step: the session in storage, one refresh at a time under a Web
 * Lock, and news of a refresh or a sign-out on a BroadcastChannel. Each part is optional: without
 * locks, the server's refresh grace window still gives racing tabs the same successor.
 */
export class TabSync {
  readonly #storage: KeyValueStorage | null;
  readonly #locks: LockManagerLike | null;
  readonly #channel: ChannelLike | null;
  readonly #key: string;

  constructor(options: { storage: KeyValueStorage | null; locks: LockManagerLike | null; channel: ChannelLike | null; key: string }) {
    this.#storage = options.storage;
    this.#locks = options.locks;
    this.#channel = options.channel;
    this.#key = options.key;
  }

  /**
   * The sync of this page's tabs under `key`: through what `given` names, else the browser's
   * `localStorage`, Web Locks and a `BroadcastChannel` where they exist. With `shared` false
   * (header transport: tokens live in this page's memory) nothing is stored or shared.
   */
  static forPage(key: string, shared: boolean, given: { readonly storage?: KeyValueStorage | null; readonly locks?: LockManagerLike | null; readonly channel?: ChannelLike | null }): TabSync {
    if (!shared) return new TabSync({ key, storage: null, locks: null, channel: null });
    const g = globalThis as { localStorage?: KeyValueStorage; navigator?: { locks?: LockManagerLike } };
    return new TabSync({
      key,
      storage: given.storage !== undefined ? given.storage : globalValue(() => g.localStorage),
      locks: given.locks !== undefined ? given.locks : globalValue(() => g.navigator?.locks),
      channel: given.channel !== undefined ? given.channel : typeof BroadcastChannel === 'function' ? (new BroadcastChannel(key) as unknown as ChannelLike) : null,
    });
  }

  /** The stored session, or null (none, or unreadable). */
  read(): StoredSession | null {
    try {
      const text = this.#storage?.getItem(this.#key);
      if (!text) return null;
      const value = JSON.parse(text) as StoredSession;
      return typeof value?.csrfToken === 'string' && typeof value.sessionId === 'string' && typeof value.expiresAt === 'number' ? value : null;
    } catch {
      return null;
    }
  }

  /** Stores `session` and tells the other tabs. */
  publish(session: StoredSession): void {
    try {
      this.#storage?.setItem(this.#key, JSON.stringify(session));
    } catch {
      // Storage full or denied: this tab still works; a reload will need a new sign-in.
    }
    this.#channel?.postMessage({ type: 'session', session } satisfies TabMessage);
  }

  /** Forgets the session and tells the other tabs why. */
  signedOut(reason: string): void {
    try {
      this.#storage?.removeItem(this.#key);
    } catch {
      // Nothing more to do.
    }
    this.#channel?.postMessage({ type: 'signedout', reason } satisfies TabMessage);
  }

  /** Runs `fn` while holding the origin-wide refresh lock (or directly, without Web Locks). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#locks ? this.#locks.request(`${this.#key}:refresh`, fn) : fn();
  }

  /**
   * Marks `previous` as refreshed, for `holdMs`, in the lock manager. Call it under the refresh
   * lock, before publishing: storage and channel messages reach other tabs asynchronously (in
   * Chromium, after the next tab may already hold the refresh lock), lock state does not.
   */
  async markRefreshed(previous: StoredSession, holdMs: number): Promise<void> {
    const locks = this.#locks;
    if (!locks?.query) return;
    // Unref'd in Node, so that a held mark never keeps a process alive.
    const later = (fn: () => void, ms: number) => (setTimeout(fn, ms) as { unref?: () => void }).unref?.();
    await new Promise<void>((granted) => {
      locks
        .request(this.#refreshedName(previous), () => {
          granted();
          return new Promise<void>((release) => later(release, holdMs));
        })
        .catch(() => granted());
      // Nobody else holds this name (the refresh lock is ours, and no mark was found), so the grant
      // is immediate; should a lock manager stall, the refresh lock is not held hostage to it.
      later(granted, 1000);
    });
  }

  /** True when another tab has refreshed `session` (see `markRefreshed`), though this tab has not heard yet. */
  async refreshedElsewhere(session: StoredSession): Promise<boolean> {
    if (!this.#locks?.query) return false;
    const name = this.#refreshedName(session);
    try {
      return ((await this.#locks.query()).held ?? []).some((lock) => lock.name === name);
    } catch {
      return false;
    }
  }

  #refreshedName(session: StoredSession): string {
    return `${this.#key}:refreshed:${session.sessionId}:${session.generation ?? session.expiresAt}`;
  }

  /** Calls `listener` with every message from another tab. */
  listen(listener: (message: TabMessage) => void): void {
    this.#channel?.addEventListener('message', (event) => {
      const data = event.data as TabMessage | null;
      if (data && (data.type === 'session' || data.type === 'signedout')) listener(data);
    });
  }

  /** Stops listening. */
  close(): void {
    this.#channel?.close();
  }
}
