import { StoreUnavailableError } from '../core/errors.ts';

/**
 * Tells whether a driver's error means the backend cannot be used right now (closed, unreachable,
 * overloaded) rather than that the call was wrong (a constraint violation, a bug).
 */
export type UnavailableTest = (err: unknown) => boolean;

/** Socket errors: the server is down, unreachable or dropped the connection. */
const networkCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_DESTROYED',
]);

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : '';
}

/**
 * SQLite primary result codes that are about the file, not the statement: BUSY (still locked after
 * the busy timeout), LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
 */
const sqliteUnavailable = new Set([5, 6, 7, 8, 10, 13, 14, 15]);

/** node:sqlite: a closed database (`ERR_INVALID_STATE`) or a file-level result code. */
export const sqliteUnavailableError: UnavailableTest = (err) => {
  const code = codeOf(err);
  if (code === 'ERR_INVALID_STATE') return true;
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  return code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && sqliteUnavailable.has(errcode & 0xff);
};

/**
 * pg: socket errors, the pool's own (ended, connect timeout, connection lost, query timeout), and
 * SQLSTATEs of connection exceptions (class 08), insufficient resources (53), shutdown and
 * cancellation by statement timeout (57).
 */
export const postgresUnavailableError: UnavailableTest = (err) => {
  const code = codeOf(err);
  if (typeof code === 'string') {
    if (networkCodes.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return /^(08|53|57)/.test(code);
  }
  return /after calling end on the pool|timeout exceeded when trying to connect|Connection terminated|not queryable|Query read timeout/i.test(messageOf(err));
};

/**
 * ioredis: socket errors, a closed or unwritable connection, retries exhausted, a cluster with no
 * reachable node, and server replies that mean "not now" (LOADING, BUSY, CLUSTERDOWN, TRYAGAIN,
 * MASTERDOWN, READONLY). Other replies (WRONGTYPE, a script error) are bugs and stay as they are.
 */
export const redisUnavailableError: UnavailableTest = (err) => {
  const code = codeOf(err);
  if (typeof code === 'string' && networkCodes.has(code)) return true;
  const name = err instanceof Error ? err.name : '';
  if (name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError') return true;
  const message = messageOf(err);
  if (name === 'ReplyError') return /^(LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|NOREPLICAS)\b/.test(message);
  return /Connection is closed|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache/i.test(message);
};

/**
 * `target` with every method raising `StoreUnavailableError` (cause kept, no driver text in the
 * message) when it fails with an error `unavailable` accepts; other errors pass unchanged. A
 * method that returns a promise rejects; one that returns a value throws: their shapes stay.
 * `make` builds the target at first use, and a failure to build counts as a failure of the call.
 */
export function guardStore<T extends object>(make: () => T, group: string, unavailable: UnavailableTest): T {
  let target: T | undefined;
  // One wrapper per method function, made on first use; a method replaced on the target gets a
  // wrapper of its own, calling the function it replaced the old one with.
  const wrappers = new WeakMap<Function, (...args: unknown[]) => unknown>();
  const raise = (operation: string, err: unknown): never => {
    throw unavailable(err) ? new StoreUnavailableError(operation, { cause: err }) : err;
  };
  return new Proxy({} as T, {
    get(_shell, prop) {
      if (typeof prop !== 'string' || prop === 'then') return target === undefined ? undefined : Reflect.get(target, prop);
      const operation = `${group}.${prop}`;
      let built: T;
      try {
        built = target ??= make();
      } catch (err) {
        // The store cannot even be built (its database is closed): every method fails alike.
        return (..._args: unknown[]) => Promise.reject(unavailable(err) ? new StoreUnavailableError(operation, { cause: err }) : err);
      }
      const value = Reflect.get(built, prop);
      if (typeof value !== 'function') return value;
      let wrapper = wrappers.get(value);
      if (!wrapper) {
        wrapper = (...args: unknown[]) => {
          let result: unknown;
          try {
            result = Reflect.apply(value, built, args);
          } catch (err) {
            return raise(operation, err);
          }
          return result instanceof Promise ? result.catch((err: unknown) => raise(operation, err)) : result;
        };
        wrappers.set(value, wrapper);
      }
      return wrapper;
    },
    set(_shell, prop, value) {
      return Reflect.set((target ??= make()), prop, value);
    },
    has(_shell, prop) {
      return prop in (target ??= make());
    },
  });
}
