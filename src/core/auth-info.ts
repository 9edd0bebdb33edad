import type { AccessClaims } from './access-tokens.ts';
import { AuthCache, type CacheHost } from './auth-cache.ts';

/** The authenticated caller of a protected operation: `request.auth` in the HTTP layer. */
export interface AuthInfo {
  readonly userId: string;
  readonly sessionId: string;
  /**
   * The access token's claims. For an opaque handle, the same claims as its session's JWT would
   * carry (`jti` names the handle without revealing it).
   */
  readonly claims: AccessClaims;
  /** A cache for your own data, scoped to this user and session; see `AuthCache`. */
  readonly cache: AuthCache;
}

/** An `AuthInfo` whose cache view is made only when a route asks for it (not on every request). */
export class Authenticated implements AuthInfo {
  readonly userId: string;
  readonly sessionId: string;
  readonly claims: AccessClaims;
  readonly #host: CacheHost;
  #cache: AuthCache | undefined;

  constructor(host: CacheHost, claims: AccessClaims) {
    this.userId = claims.sub;
    this.sessionId = claims.sid;
    this.claims = claims;
    this.#host = host;
  }

  get cache(): AuthCache {
    return (this.#cache ??= new AuthCache(this.#host, this.userId, this.sessionId));
  }
}
