// What the client tests give the browser client in Node: a tiny cookie jar for the browser's,
// `fetch` onto app.inject, storage and Web Locks in memory, so that client instances behave as tabs.
import assert from 'node:assert/strict';
import type { KeyValueStorage, LockManagerLike, TokenstileClient } from '../../src/client/index.ts';
import type { TestServer } from '../helpers.ts';

/** A browser's cookie jar for one origin: stores Set-Cookie, sends cookies whose path matches. */
export class CookieJar {
  readonly cookies = new Map<string, { value: string; path: string }>();
  header(url: string): string | undefined {
    const path = new URL(url).pathname;
    const pairs = [...this.cookies].filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/').map(([n, c]) => `${n}=${c.value}`);
    return pairs.length > 0 ? pairs.join('; ') : undefined;
  }
  take(setCookies: Array<{ name: string; value: string; path?: string; maxAge?: number }>): void {
    for (const c of setCookies) {
      if (c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, { value: c.value, path: c.path ?? '/' });
    }
  }
}

/** `fetch` onto app.inject, through `jar` when given; counts the requests per path. */
export function injectFetch(app: TestServer, jar: CookieJar | null, counts = new Map<string, number>()): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input), 'http://127.0.0.1:3000');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const cookie = jar?.header(url.href);
    if (cookie) headers.cookie = cookie;
    const res = await app.inject({ method: (init.method ?? 'GET') as 'GET', url: url.pathname + url.search, headers, ...(init.body !== undefined && { payload: String(init.body) }) });
    jar?.take(res.cookies as Array<{ name: string; value: string; path?: string; maxAge?: number }>);
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (k !== 'set-cookie' && v !== undefined) out.set(k, String(v));
    return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : res.body, { status: res.statusCode, headers: out });
  }) as typeof fetch;
}

export function memoryStorage(): KeyValueStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

/** Web Locks semantics for one name at a time: callbacks run one after another; `query` lists the held ones. */
export function memoryLocks(): LockManagerLike {
  const tails = new Map<string, Promise<unknown>>();
  const held = new Set<string>();
  return {
    request(name, callback) {
      const previous = tails.get(name) ?? Promise.resolve();
      const hold = async () => {
        held.add(name);
        try {
          return await callback();
        } finally {
          held.delete(name);
        }
      };
      const run = previous.then(hold, hold);
      tails.set(name, run.catch(() => {}));
      return run;
    },
    query: async () => ({ held: [...held].map((name) => ({ name })) }),
  };
}


/**
 * The browser drops the access cookie at its Max-Age (`advance` moves the app's clock past it);
 * two tabs then act at once, and one refresh must serve both.
 */
export async function bothTabsAfterExpiry(tabs: readonly [TokenstileClient, TokenstileClient], jar: CookieJar, counts: Map<string, number>, advance: () => void): Promise<void> {
  advance();
  jar.cookies.delete('__Host-tokenstile-access');
  const answers = await Promise.all(tabs.map((tab) => tab.fetch('/auth/me')));
  assert.deepEqual(answers.map((res) => res.status), [200, 200]);
  assert.equal(counts.get('/auth/refresh'), 1, 'one refresh for both tabs');
}
