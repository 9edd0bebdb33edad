import { AccessTokenVerifier, unverifiedKid, type AccessClaims } from '../core/access-tokens.ts';
import type { VerificationKeys } from '../core/keys.ts';
import { JwksCache } from './jwks-cache.ts';
import { JwkSetKeys } from './jwks-keys.ts';
import { describeError, RevocationStreamClient } from './revocation-stream-client.ts';
import { askIntrospection, claimsOf, HandleCache, handleSessionId } from './introspection.ts';
import { InvalidDpopProofError, InvalidTokenError, SessionRevokedError, TokenExpiredError, TokenVerificationError, UseDpopNonceError, VerifierUnavailableError } from './verify-errors.ts';
import { checkProof } from '../core/dpop-proofs.ts';
import { MemoryProofReplayStore } from '../core/proof-replay.ts';
import { bearerToken, dpopToken } from '../protocol/bearer-token.ts';
import { resolveVerifierOptions, type ResolvedVerifierOptions, type VerifierOptions } from './verify-options.ts';

/** What `verifyRequest` needs of a request. */
export interface RequestToVerify {
  /** The request method (`GET`, `POST`…). */
  readonly method: string;
  /**
   * The request's URL: absolute as the client sent it (`https://api.example.com/orders?page=2`),
   * or, with `dpop.origin` set, the path alone. Query and fragment are ignored.
   */
  readonly url: string;
  /** The `Authorization` header. */
  readonly authorization: string | readonly string[] | undefined;
  /** The `DPoP` header (several values are refused). */
  readonly dpop: string | readonly string[] | undefined;
}

/** Marks a refusal as one of the DPoP scheme (its challenge is `WWW-Authenticate: DPoP`). */
function dpopScheme<E extends TokenVerificationError>(err: E): E {
  err.scheme = 'DPoP';
  return err;
}

/** Checks Tokenstile access tokens locally, honouring logouts pushed by the auth server. */
export interface Verifier {
  /**
   * The token's claims, or throws a `TokenVerificationError`: `invalid_token`, `token_expired`,
   * `session_revoked`, or `service_unavailable` when it cannot decide safely (revocations stale
   * past their bound without a working fallback, or no keys).
   */
  verify(token: string): Promise<AccessClaims>;
  /**
   * Checks a whole request: `Authorization: Bearer` (an unbound token, as `verify`) or
   * `Authorization: DPoP` with a DPoP proof (RFC 9449 §7): the token must be bound (`cnf.jkt`) and
   * the proof signed by its key, for this method and URL, fresh, never seen before, with `ath` the
   * token's hash (and the nonce, with `dpop.nonces`). Throws as `verify`, plus
   * `InvalidDpopProofError` / `UseDpopNonceError`; refusals of the DPoP scheme have
   * `scheme: 'DPoP'`. A bound token sent as Bearer is refused (`invalid_token`).
   *
   * @example
   * const claims = await verifier.verifyRequest({
   *   method: req.method, url: 'https://api.example.com/orders?page=2',
   *   authorization: req.headers.authorization, dpop: req.headers.dpop,
   * });
   */
  verifyRequest(request: RequestToVerify): Promise<AccessClaims>;
  /** The nonce to send in `DPoP-Nonce` (with `dpop.nonces`), else null. */
  dpopNonce(): string | null;
  /**
   * Resolves once the verifier can decide: the first revocation snapshot has arrived (with
   * `acknowledge`, the first lease has been granted) and the keys are fetched. Until `timeoutMs`
   * (default 10 s) it keeps trying, so a resource server may start before its auth server; then it
   * rejects with a `VerifierUnavailableError` naming each URL that failed and why (`cause` set).
   * Serving before that is allowed; `verify` then follows `onStale`.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** True while the revocation list is current (always true with `revocations: false`). */
  readonly fresh: boolean;
  /** Number of revoked sessions currently known. */
  readonly revocationCount: number;
  /** Stops the revocation stream. */
  close(): void;
}

/**
 * Creates a verifier. Options are checked here, so a misconfiguration fails at startup with a
 * message naming the field, never at the first request.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'tokenstile/verify';
 *
 * const verifier = createVerifier({
 *   issuer: 'https://auth.example.com',
 *   audience: 'tokenstile',
 *   algorithms: ['ES256'],
 *   jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
 *   revocations: { clientId: 'orders-api', clientSecret: process.env.ORDERS_API_SECRET! },
 * });
 * await verifier.ready();
 * const claims = await verifier.verify(token); // throws SessionRevokedError after a logout
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const o = resolveVerifierOptions(options);
  const fixed = o.keys === null ? null : new JwkSetKeys(o.keys, o.algorithms);
  const jwks =
    o.jwksUrl === null
      ? null
      : new JwksCache({ url: o.jwksUrl, algorithms: o.algorithms, fetch: o.fetch, now: o.now, cooldownMs: o.jwksCooldownMs, maxAgeMs: o.jwksMaxAgeMs, report: o.onEvent });
  let current: VerificationKeys = fixed ?? new JwkSetKeys({ keys: [] }, o.algorithms);
  const tokens = new AccessTokenVerifier(() => current, { issuer: o.issuer, audience: o.audience, clockToleranceMs: o.clockToleranceS * 1000 }, { now: o.now });
  const stream =
    o.revocations === false
      ? null
      : new RevocationStreamClient({ ...o.revocations, fetch: o.fetch, now: o.now, onEvent: o.onEvent });
  stream?.start();

  const handles = new HandleCache();

  /**
   * An opaque handle: only the auth server can map it, so it is introspected; an active answer is
   * reused while the revocation stream is current (a logout still refuses it at once).
   */
  async function verifyHandle(token: string): Promise<AccessClaims> {
    const sid = handleSessionId(token);
    if (sid === null || o.revocations === false || !stream) throw new InvalidTokenError();
    if (stream.list.isRevoked(sid)) throw new SessionRevokedError();
    const now = o.now();
    const cached = stream.fresh ? handles.get(token, now) : null;
    if (cached !== null) {
      if (cached.exp <= now / 1000 - o.clockToleranceS) throw new TokenExpiredError();
      return cached;
    }
    const claims = claimsOf(await askIntrospection(o.revocations, o.fetch, token), sid, o.issuer, o.audience);
    // Inactive: ended (the stream says so), or expired or replaced by a refresh (refresh it).
    if (claims === null) throw stream.list.isRevoked(sid) ? new SessionRevokedError() : new TokenExpiredError();
    const until = Math.min(now + o.revocations.handleCacheTtlMs, claims.exp * 1000);
    if (until > now) handles.set(token, claims, until);
    return claims;
  }

  async function verify(token: string): Promise<AccessClaims> {
    const claims = await verifyToken(token);
    // A bound token is only half checked without its proof: never accepted here.
    if (claims.cnf !== undefined) throw new InvalidTokenError('This access token is DPoP-bound: check it with verifyRequest, with the request and its DPoP proof.');
    return claims;
  }

  const replay = o.dpop.replay ?? new MemoryProofReplayStore({ now: o.now });
  const proofSettings = { windowMs: o.dpop.windowMs, now: o.now, replay, ...(o.dpop.nonces !== null && { nonceValid: (n: string) => o.dpop.nonces!.valid(n) }) };

  async function verifyRequest(request: RequestToVerify): Promise<AccessClaims> {
    const authorization = typeof request.authorization === 'string' ? request.authorization : undefined;
    const bearer = bearerToken(authorization);
    if (bearer !== null) {
      const claims = await verifyToken(bearer);
      if (claims.cnf !== undefined) throw dpopScheme(new InvalidTokenError('This access token is DPoP-bound: send it with Authorization: DPoP and a DPoP proof.'));
      if (o.dpop.required) throw dpopScheme(new InvalidTokenError('This resource server accepts DPoP-bound tokens only.'));
      return claims;
    }
    const token = dpopToken(authorization);
    if (token === null) throw new InvalidTokenError('An access token is required: Authorization: Bearer <token> or DPoP <token>.');
    let claims: AccessClaims;
    try {
      claims = await verifyToken(token);
    } catch (err) {
      throw err instanceof TokenVerificationError && err.code !== 'service_unavailable' ? dpopScheme(err) : err;
    }
    if (claims.cnf === undefined) throw dpopScheme(new InvalidTokenError('This access token is not DPoP-bound: send it with the Bearer scheme.'));
    const checked = await checkProof(typeof request.dpop === 'string' ? request.dpop : Array.isArray(request.dpop) ? '' : undefined, { method: request.method.toUpperCase(), url: proofUrlOf(request.url), accessToken: token, jkt: claims.cnf.jkt }, proofSettings);
    if (checked.ok) return claims;
    if (checked.code === 'service_unavailable') throw new VerifierUnavailableError('The DPoP replay store is unavailable; retry shortly.');
    throw checked.code === 'use_dpop_nonce' ? new UseDpopNonceError() : new InvalidDpopProofError(`${checked.reason}.`);
  }

  /** The URL a proof must name: the configured origin with the request's path, or the request's URL. */
  function proofUrlOf(url: string): string {
    if (o.dpop.origin === null) return url;
    try {
      const u = new URL(url, o.dpop.origin);
      return `${o.dpop.origin}${u.pathname}`;
    } catch {
      return '';
    }
  }

  async function verifyToken(token: string): Promise<AccessClaims> {
    if (typeof token !== 'string' || token.length === 0) throw new InvalidTokenError();
    if (token.startsWith('tsa_')) return verifyHandle(token);
    if (jwks) current = await jwks.keysFor(unverifiedKid(token));
    const checked = tokens.verify(token);
    if (!checked.ok) throw checked.code === 'token_expired' ? new TokenExpiredError() : new InvalidTokenError();
    const claims = checked.value;
    if (!stream) return claims;
    if (stream.list.isRevoked(claims.sid)) throw new SessionRevokedError();
    if (stream.fresh) return claims;
    if (o.revocations !== false && o.revocations.onStale === 'introspect') return introspect(token, claims, o);
    throw new VerifierUnavailableError('Revocations from the auth server are not current; retry shortly.');
  }

  /**
   * Retries until `timeoutMs` has passed: the auth server may not be up yet when a resource server
   * starts. The key set is asked for again after 100 ms, doubling up to 2 s; the stream reconnects
   * on its own (at least every second until its first snapshot).
   */
  async function ready(timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let closed = false;
    let wake: (() => void) | undefined;
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, Math.min(ms, deadline - performance.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    const keysLoaded = (async () => {
      if (!jwks) return;
      for (let backoff = 100; !closed; backoff = Math.min(backoff * 2, 2000)) {
        const keys = await jwks.load();
        if (keys !== null) {
          current = keys;
          return;
        }
        if (performance.now() >= deadline) return;
        await pause(backoff);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const outcome = await Promise.race([Promise.all([stream?.ready(), keysLoaded]).then(() => 'ready' as const), timedOut]);
      if (outcome === 'ready' && (jwks === null || jwks.lastError === null)) return;
    } finally {
      closed = true;
      wake?.();
      clearTimeout(timer);
    }
    const problems: string[] = [];
    let cause: Error | null = null;
    if (jwks?.lastError) {
      problems.push(`the key set at ${jwks.url} could not be fetched: ${describeError(jwks.lastError)}`);
      cause = jwks.lastError;
    }
    if (stream && o.revocations !== false && !stream.fresh) {
      const why = stream.lastError ? describeError(stream.lastError) : o.revocations.ackUrl ? 'no snapshot and acknowledged lease yet' : 'no snapshot yet';
      problems.push(`the revocation stream at ${o.revocations.url} is not current: ${why}`);
      cause ??= stream.lastError;
    }
    throw new VerifierUnavailableError(`the verifier was not ready within ${timeoutMs} ms: ${problems.join('; ') || 'unknown cause'}`, cause ? { cause } : undefined);
  }

  return {
    verify,
    verifyRequest,
    dpopNonce: () => o.dpop.nonces?.current() ?? null,
    ready,
    get fresh() {
      return stream === null || stream.fresh;
    },
    get revocationCount() {
      return stream?.list.size ?? 0;
    },
    close() {
      stream?.close();
    },
  };
}

/** The stale-feed fallback: the auth server's word on one token (RFC 7662). */
async function introspect(token: string, claims: AccessClaims, o: ResolvedVerifierOptions): Promise<AccessClaims> {
  if (o.revocations === false) return claims;
  const answer = await askIntrospection(o.revocations, o.fetch, token);
  // The signature and times were checked here already; an inactive answer means the session ended.
  if (answer.active !== true || answer.sid !== claims.sid) throw new SessionRevokedError();
  return claims;
}
