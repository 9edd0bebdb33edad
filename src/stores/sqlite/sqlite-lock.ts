import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Keeps other requests' statements out of an open feature transaction. node:sqlite is synchronous
 * and the stores share one connection, so a statement runs whole between two turns of the event
 * loop; but a feature's transaction spans awaits, and any statement run meanwhile on the
 * connection would land inside it (and a store's own BEGIN would fail). While a transaction holds
 * the lock, every other statement (a store's, or a feature's outside the transaction) waits its
 * turn; the work of the transaction itself (its async context) goes straight through.
 *
 * With the lock free, work runs at once: the stores' hot path gains one branch, no promise.
 */
export class SqliteLock {
  readonly #holder = new AsyncLocalStorage<SqliteLock>();
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  /** True when `fn` may run now: nothing holds or waits for the lock, or this is the holder's own work. */
  get free(): boolean {
    return this.#pending === 0 || this.#holder.getStore() === this;
  }

  /** Runs `fn` holding the lock, after every holder and waiter before it. */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.#pending++;
    const before = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await before;
      return await this.#holder.run(this, fn);
    } finally {
      this.#pending--;
      release();
    }
  }

  /** Runs `fn` now when the lock is free, else in turn (with the lock held for it). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.free ? fn() : this.hold(fn);
  }

  /**
   * `store` with every method run through `run`: a call made while a transaction is open waits
   * for it to end. The methods of Tokenstile's stores all return promises.
   */
  serialize<T extends object>(store: T): T {
    const wrappers = new WeakMap<Function, (...args: unknown[]) => unknown>();
    return new Proxy(store, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop);
        if (typeof value !== 'function') return value;
        let wrapper = wrappers.get(value);
        if (!wrapper) {
          wrapper = (...args: unknown[]) => (this.free ? Reflect.apply(value, target, args) : this.hold(async () => Reflect.apply(value, target, args)));
          wrappers.set(value, wrapper);
        }
        return wrapper;
      },
    });
  }
}
