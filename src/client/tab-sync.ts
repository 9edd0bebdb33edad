/** What the client needs of `localStorage` (the cookie transport keeps its CSRF token there). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** What the client needs of the Web Locks API (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
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
