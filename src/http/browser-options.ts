import { ConfigError } from '../core/errors.ts';

/** Options of the cookie transport for browsers (see docs/browser.md). */
export interface BrowserOptions {
  /**
   * `SameSite` of the access cookie. Default `'lax'`: the cookie goes along when the user follows
   * a link to your site from elsewhere, never on cross-site subrequests or form posts. `'strict'`
   * keeps it off every request started from another site. The refresh cookie is always `Strict`.
   */
  readonly cookieSameSite?: 'lax' | 'strict';
  /**
   * Origins (`scheme://host[:port]`) whose pages may send cookie-authenticated state-changing
   * requests and cookie-transport logins, besides the origin the request itself was sent to; the
   * `/auth` routes answer these origins' CORS requests and preflights with credentials, and no
   * other origin's. Default: the issuer's origin. Set it when the account page or your app is
   * served from another origin than the issuer (with the cookie transport, a listed origin must be
   * on the same site as Tokenstile, or reach it through a proxy on its own origin: the cookies are
   * `SameSite`).
   */
  readonly allowedOrigins?: readonly string[];
}

/** Validated browser settings. */
export interface BrowserConfig {
  readonly sameSite: 'lax' | 'strict';
  /** Serialized origins (`URL.origin`), compared exactly. */
  readonly allowedOrigins: ReadonlySet<string>;
  /** Path of the refresh route (with the plugin's prefix): the refresh cookie's `Path`. */
  readonly refreshPath: string;
}

/** An origin in canonical form (`URL.origin`), or a `ConfigError` naming `what` and the bad entry. */
export function canonicalOrigin(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${what}: ${JSON.stringify(text)} is not an origin (scheme://host[:port])`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new ConfigError(`${what}: ${JSON.stringify(text)} is not an http(s) origin (scheme://host[:port], no path)`);
  }
  // "https://app.example.com/" is accepted as the origin it obviously means.
  return url.origin;
}

/** Checks the browser options once, at startup; `issuer` gives the default allowed origin. */
export function resolveBrowserConfig(options: BrowserOptions, issuer: string, refreshPath = '/auth/refresh'): BrowserConfig {
  const sameSite = options.cookieSameSite ?? 'lax';
  if (sameSite !== 'lax' && sameSite !== 'strict') throw new ConfigError(`cookieSameSite must be "lax" or "strict", got ${JSON.stringify(sameSite)}`);
  let listed = options.allowedOrigins;
  if (listed === undefined) {
    try {
      listed = [new URL(issuer).origin];
    } catch {
      throw new ConfigError(`issuer must be an absolute URL, got ${JSON.stringify(issuer)}`);
    }
  }
  if (!Array.isArray(listed)) throw new ConfigError('allowedOrigins must be a list of origins');
  const allowedOrigins = new Set<string>();
  for (const entry of listed as unknown[]) {
    if (typeof entry !== 'string') throw new ConfigError('allowedOrigins must be a list of origin strings');
    allowedOrigins.add(canonicalOrigin(entry, 'allowedOrigins'));
  }
  return Object.freeze({ sameSite, allowedOrigins, refreshPath });
}
