import { parseCookie } from 'cookie';
import type { AuthInfo } from '../core/auth-info.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { authenticateCaller } from './authenticate.ts';
import type { BrowserConfig } from './browser-options.ts';
import type { HttpRequest } from './http-types.ts';
import { NeutralReply, type HttpAnswer } from './neutral-reply.ts';
import { requestOrigin, type TrustProxyFunction } from './trust-proxy.ts';

/** What the guard needs of a request to one of the host app's own routes. */
export interface GuardInput {
  readonly method: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The peer's address, or null when the runtime does not say. */
  readonly peer: string | null;
  /** True on a TLS connection. */
  readonly encrypted: boolean;
  /**
   * Path and query as the client sent them (`/api/notes?x=1`, the mount path included): a DPoP
   * proof's `htu` names the issuer's origin with this path. Without it, DPoP-bound tokens are refused.
   */
  readonly url?: string;
}

/** The guard's verdict: the caller, or the 401/403 problem+json answer to send instead. */
export type GuardResult = { readonly ok: true; readonly auth: AuthInfo } | { readonly ok: false; readonly answer: HttpAnswer };

/** Checks a request to a host route exactly as a protected Tokenstile route is checked. */
export type Guard = (input: GuardInput) => Promise<GuardResult>;

/**
 * The one framework-neutral check behind the Express, Hono and Next.js helpers: Bearer header or
 * access cookie, origin and CSRF checks for cookie-authenticated unsafe methods, the in-memory
 * revocation check, and RFC 6750 401 / 403 problem+json answers (`authenticateCaller`, as
 * Tokenstile's own routes use it). The adapters only translate the request and the answer.
 */
export function createGuard(core: Tokenstile, browser: BrowserConfig, trust: TrustProxyFunction): Guard {
  return async function guard(input) {
    const origin = requestOrigin(trust, input.peer, input.encrypted, input.headers);
    const cookieHeader = input.headers.cookie;
    const request: HttpRequest = {
      method: input.method.toUpperCase(),
      headers: input.headers,
      cookies: typeof cookieHeader === 'string' ? parseCookie(cookieHeader) : {},
      ip: origin.ip,
      protocol: origin.protocol,
      host: origin.host,
      params: {},
      ...(input.url !== undefined && { url: input.url }),
      body: undefined,
      auth: null,
    };
    const reply = new NeutralReply(() => {
      throw new Error('the guard never streams');
    });
    if (await authenticateCaller(core, browser, request, reply)) return { ok: true, auth: request.auth! };
    reply.header('x-content-type-options', 'nosniff');
    return { ok: false, answer: reply.answer() };
  };
}
