import { StoreUnavailableError, TokenstileError } from '../core/errors.ts';
import type { Stores } from '../core/stores.ts';

export { StoreUnavailableError };

/** Told how long each store operation took and whether it succeeded. */
export type StoreObserver = (operation: string, seconds: number, ok: boolean) => void;

function wrap<T extends object>(target: T, group: string, observe: StoreObserver): T {
  // One wrapper per method function, made on first use (not a new closure on every call); a
  // method replaced on the target gets a wrapper of its own.
  const wrappers = new WeakMap<Function, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const known = wrappers.get(value);
      if (known) return known;
      const operation = `${group}.${prop}`;
      const wrapper = async (...args: unknown[]) => {
        const started = process.hrtime.bigint();
        try {
          const result = await value.apply(t, args);
          observe(operation, Number(process.hrtime.bigint() - started) / 1e9, true);
          return result;
        } catch (err) {
          observe(operation, Number(process.hrtime.bigint() - started) / 1e9, false);
          throw err instanceof TokenstileError ? err : new StoreUnavailableError(operation, { cause: err });
        }
      };
      wrappers.set(value, wrapper);
      return wrapper;
    },
  });
}

/**
 * The same stores, timing every operation for metrics and turning any failure of the backend
 * into a `StoreUnavailableError` (503 problem+json, never a 500 with a driver message).
 */
export function instrumentStores(stores: Stores, observe: StoreObserver): Stores {
  const users = wrap(stores.users, 'users', observe);
  const credentials = wrap(stores.credentials, 'credentials', observe);
  const sessions = wrap(stores.sessions, 'sessions', observe);
  const revocations = wrap(stores.revocations, 'revocations', observe);
  const keys = wrap(stores.keys, 'keys', observe);
  const audit = wrap(stores.audit, 'audit', observe);
  const clients = stores.clients && wrap(stores.clients, 'clients', observe);
  const oneTimeTokens = wrap(stores.oneTimeTokens, 'oneTimeTokens', observe);
  return {
    kind: stores.kind,
    users,
    credentials,
    sessions,
    revocations,
    keys,
    audit,
    ...(clients && { clients }),
    oneTimeTokens,
    // Features' SQL is not timed per statement; the stores already map its failures to 503.
    database: stores.database,
    ping: () => stores.ping(),
    migrate: (extra) => stores.migrate(extra),
    close: () => stores.close(),
  };
}
