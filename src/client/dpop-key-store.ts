/** A WebCrypto key (typed from the global, so that it compiles with and without the DOM types). */
export type WebCryptoKey = typeof CryptoKey.prototype;

/** A WebCrypto key pair, as `crypto.subtle.generateKey` makes it. */
export interface DpopKeyPair {
  readonly privateKey: WebCryptoKey;
  readonly publicKey: WebCryptoKey;
}

/**
 * Where the client keeps its DPoP key pair: one pair per name (the client's `storageKey`) in this
 * origin. The pair is a WebCrypto key pair whose private key is not extractable: a store
 * keeps the key object itself (IndexedDB stores it by structured clone), never its bytes.
 */
export interface DpopKeyStore {
  /** The pair stored under `name`, or null. */
  get(name: string): Promise<DpopKeyPair | null>;
  /** Stores `keys` under `name`, replacing any pair there. */
  set(name: string, keys: DpopKeyPair): Promise<void>;
  /** Forgets the pair under `name` (nothing to do when there is none). */
  delete(name: string): Promise<void>;
}

/** A store in this page's memory: the pair lives as long as the page (or the Node process). */
export function memoryKeyStore(): DpopKeyStore {
  const pairs = new Map<string, DpopKeyPair>();
  return {
    get: async (name) => pairs.get(name) ?? null,
    set: async (name, keys) => void pairs.set(name, keys),
    delete: async (name) => void pairs.delete(name),
  };
}

// The little of IndexedDB used here, as structural types: the client compiles without the DOM types.
interface RequestLike<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface OpenRequestLike extends RequestLike<DatabaseLike> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface DatabaseLike {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: 'readonly' | 'readwrite'): { objectStore(name: string): ObjectStoreLike };
  close(): void;
  onversionchange: (() => void) | null;
}
interface ObjectStoreLike {
  get(key: string): RequestLike<unknown>;
  put(value: unknown, key: string): RequestLike<unknown>;
  delete(key: string): RequestLike<unknown>;
}
interface FactoryLike {
  open(name: string, version: number): OpenRequestLike;
}

const storeName = 'keys';

function settle<T>(request: RequestLike<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function isKeyPair(value: unknown): value is DpopKeyPair {
  const pair = value as Partial<DpopKeyPair> | null;
  return typeof pair === 'object' && pair !== null && typeof pair.privateKey === 'object' && typeof pair.publicKey === 'object';
}

/**
 * The browser default: IndexedDB database `database` (default `tokenstile-dpop`), object store
 * `keys`, so that the pair survives reloads and is shared by the origin's tabs. Where IndexedDB is
 * missing or refuses to open (some private modes), it falls back to this page's memory: the key
 * then lives as long as the page, and a reload signs out of a bound session.
 */
export function indexedDbKeyStore(database = 'tokenstile-dpop'): DpopKeyStore {
  const fallback = memoryKeyStore();
  let opened: Promise<DatabaseLike | null> | null = null;
  const open = (): Promise<DatabaseLike | null> =>
    (opened ??= new Promise<DatabaseLike | null>((resolve) => {
      let request: OpenRequestLike;
      try {
        const factory = (globalThis as unknown as { indexedDB?: FactoryLike }).indexedDB;
        if (!factory) return resolve(null);
        request = factory.open(database, 1);
      } catch {
        return resolve(null);
      }
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(storeName)) request.result.createObjectStore(storeName);
      };
      request.onsuccess = () => {
        const db = request.result;
        // A newer version elsewhere (another tab's upgrade) must not wait on this connection.
        db.onversionchange = () => {
          db.close();
          opened = null;
        };
        resolve(db);
      };
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    }));
  const run = async <T>(mode: 'readonly' | 'readwrite', act: (store: ObjectStoreLike) => RequestLike<T>, otherwise: () => Promise<T>): Promise<T> => {
    const db = await open();
    if (db === null) return otherwise();
    return settle(act(db.transaction(storeName, mode).objectStore(storeName)));
  };
  return {
    async get(name) {
      const value = await run('readonly', (s) => s.get(name), () => fallback.get(name));
      return isKeyPair(value) ? { privateKey: value.privateKey, publicKey: value.publicKey } : null;
    },
    async set(name, keys) {
      await run('readwrite', (s) => s.put({ privateKey: keys.privateKey, publicKey: keys.publicKey }, name), () => fallback.set(name, keys));
    },
    async delete(name) {
      await run('readwrite', (s) => s.delete(name), () => fallback.delete(name));
    },
  };
}
