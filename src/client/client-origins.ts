/** Resolves relative URLs when there is no page (Node, workers without `location`). */
const noPage = 'http://page.invalid/';
/** A URL with a scheme (`https:`, `HTTP:`, `data:` …): it does not go through `baseUrl`. */
const absolute = /^[a-z][a-z\d+.-]*:/i;

function originOf(url: string, page: string): string | null {
  try {
    return new URL(url, page).origin;
  } catch {
    return null;
  }
}

/** A browser global, or null where there is none or reading it throws. */
export function globalValue<T>(read: () => T | undefined): T | null {
  try {
    return read() ?? null;
  } catch {
    return null; // e.g. localStorage denied in a sandboxed frame
  }
}

/**
 * Where the client's requests go, and which of them may carry the session's credentials: those
 * to `baseUrl`'s origin and to the trusted origins, never any other.
 */
export class ClientOrigins {
  /** `baseUrl` without trailing slashes. */
  readonly base: string;
  /** The page's URL (relative URLs resolve against it). */
  readonly #page: string;
  readonly #trusted: ReadonlySet<string>;

  /** Throws a TypeError for a `baseUrl` or trusted origin that is not http(s). */
  constructor(baseUrl: string, trustedOrigins: readonly string[]) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.#page = globalValue(() => (globalThis as { location?: { href?: string } }).location?.href) ?? noPage;
    const apiOrigin = originOf(this.base || '/', this.#page);
    if (apiOrigin === null || apiOrigin === 'null') throw new TypeError('baseUrl must be an http(s) URL or a path');
    const trusted = new Set([apiOrigin]);
    for (const entry of trustedOrigins) {
      const origin = /^https?:\/\//i.test(entry) ? originOf(entry, noPage) : null;
      if (origin === null) throw new TypeError(`trustedOrigins: ${JSON.stringify(entry)} is not an http(s) origin`);
      trusted.add(origin);
    }
    this.#trusted = trusted;
  }

  /** Where a request for `path` goes: an absolute URL as is, anything else under `baseUrl`. */
  urlOf(path: string): string {
    return absolute.test(path) ? path : this.base + path;
  }

  /** The absolute URL a request for `path` goes to (relative ones resolved against the page). */
  absoluteUrlOf(path: string): string {
    return new URL(this.urlOf(path), this.#page).href;
  }

  /** Whether a request for `path` may carry the session's credentials. */
  trusts(path: string): boolean {
    return this.#trusted.has(originOf(this.urlOf(path), this.#page) ?? '');
  }
}
