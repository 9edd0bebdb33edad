import type { ClientEvents } from './client-options.ts';

export type Listener<K extends keyof ClientEvents> = (event: ClientEvents[K]) => void;

/** The client's listeners, by event; a listener that throws never breaks the client. */
export class ClientEventListeners {
  readonly #listeners: { [K in keyof ClientEvents]: Set<Listener<K>> } = { signedout: new Set(), session: new Set() };

  /** Adds `listener`; returns the function that removes it. */
  add<K extends keyof ClientEvents>(type: K, listener: Listener<K>): () => void {
    this.#listeners[type].add(listener);
    return () => this.#listeners[type].delete(listener);
  }

  emit<K extends keyof ClientEvents>(type: K, event: ClientEvents[K]): void {
    for (const listener of this.#listeners[type]) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not break the client.
      }
    }
  }
}
