import { parseDuration, type Duration } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { signingAlgorithms, type PublicJwk, type SigningAlgorithm } from '../core/keys.ts';
import type { ProofReplayStore } from '../core/proof-replay.ts';

/** Where revocations come from: the auth server's `/revocations/stream`, as an authenticated client. */
export interface RevocationStreamSource {
  /** Default `${issuer}/revocations/stream`. */
  readonly url?: string;
  /** A client from the auth server's `TOKENSTILE_CLIENTS`. */
  readonly clientId: string;
  readonly clientSecret: string;
  /**
   * The staleness bound: with no event or heartbeat for this long (the server sends one every
   * 500 ms while its own list is current), the verifier no longer trusts its list. Default `2s`;
   * 1s–1h. Not used with `acknowledge: true`, where the server's lease bounds trust instead.
   */
  readonly staleAfter?: Duration;
  /**
   * Acknowledge every event to the auth server instance that sent it and trust the list only
   * under the lease its answers grant (1.5 s by default, renewed about every 250 ms): then, when
   * any revocation call answers, this verifier already refuses the ended sessions' tokens (the
   * auth server waits for it, at most one lease). Default `false`: the list is trusted while
   * heartbeats arrive within `staleAfter`, so a logout reaches it within that bound after a stall.
   * Needs an auth server with this endpoint (`POST /revocations/stream/ack`). See docs/verify.md.
   */
  readonly acknowledge?: boolean;
  /** Where acknowledgements go. Default: the stream `url` + `/ack`. */
  readonly ackUrl?: string;
  /**
   * What `verify` does while the list is stale (and before the first snapshot): `refuse` (default)
   * throws `VerifierUnavailableError`; `introspect` asks the auth server's `/oauth/introspect` per
   * token (slower, still right) and throws `VerifierUnavailableError` only if that fails too.
   */
  readonly onStale?: 'refuse' | 'introspect';
  /** Default `${issuer}/oauth/introspect`. */
  readonly introspectionUrl?: string;
  /**
   * Opaque access handles (`tsa_…`, `TOKENSTILE_ACCESS_TOKEN_FORMAT=opaque`) are checked by
   * introspection; an active answer is reused for this long (never past the handle's expiry), and
   * only while the revocation stream is current, so a logout still refuses it at once. A handle
   * replaced by a refresh may be accepted until its cached answer ends. Default `30s`; `0` asks
   * every time; at most `5m`.
   */
  readonly handleCacheTtl?: Duration;
}

/**
 * DPoP (RFC 9449) in a resource server: tokens bound to a client key (`cnf.jkt`) are accepted only
 * with `Authorization: DPoP` and a fresh proof by that key, checked by `verifyRequest` (and the
 * Express and Hono middlewares). jose is loaded at the first bound token.
 */
export interface VerifierDpopOptions {
  /** Refuse Bearer (unbound) tokens: every token must be DPoP-bound. Default `false`. */
  readonly required?: boolean;
  /**
   * Where proof `jti`s are remembered, so a replayed proof is refused: `claim(key, ttlMs)` true
   * only the first time. Default: this process's memory; several instances of one resource server
   * should share one (e.g. Redis `SET key 1 NX PX ttl`).
   */
  readonly replay?: ProofReplayStore;
  /** How far a proof's `iat` may be from now, either way, on top of `clockTolerance`. Default `60s`; 1s–10m. */
  readonly proofWindow?: Duration;
  /**
   * Server nonces (RFC 9449 §9): proofs must carry one that `valid` accepts, and answers offer
   * `current()` in `DPoP-Nonce`. `new DpopNonces(secret)` makes stateless ones (shared by every
   * instance with the same secret). Default: none.
   */
  readonly nonces?: DpopNonceSource;
  /**
   * This resource server's public origin (`https://api.example.com`), which a proof's `htu` must
   * name. Default: the request's own (`Host` and protocol as the framework sees them); set it
   * behind a proxy that changes either, and so that a `Host` header cannot choose it.
   */
  readonly origin?: string;
}

/** Issues and checks DPoP server nonces. */
export interface DpopNonceSource {
  /** The nonce to hand out now. */
  current(): string;
  /** True for a nonce this source issued and still accepts. */
  valid(nonce: string): boolean;
}

/** Options of `createVerifier`. Issuer, audience, algorithms and a key source are required. */
export interface VerifierOptions {
  /** The auth server's issuer (`TOKENSTILE_ISSUER`), compared exactly with `iss`. */
  readonly issuer: string;
  /** This resource server's audience (`TOKENSTILE_AUDIENCE`), which `aud` must contain. */
  readonly audience: string;
  /**
   * The algorithms tokens may be signed with, e.g. `['ES256']`: pinned here, never taken from the
   * token. A key of another algorithm in the JWKS is ignored.
   */
  readonly algorithms: readonly SigningAlgorithm[];
  /** The auth server's key set, usually `${issuer}/.well-known/jwks.json`. Give this or `keys`. */
  readonly jwksUrl?: string;
  /** A fixed key set instead of `jwksUrl` (no rotation without a restart). */
  readonly keys?: { readonly keys: readonly PublicJwk[] };
  /**
   * Where revocations come from. `false` turns the revocation check off: tokens then stay valid
   * until they expire, even after logout. There is no default, so that this is always a choice.
   */
  readonly revocations: RevocationStreamSource | false;
  /** Leeway for `exp`, `nbf` and `iat`. Default `5s`; at most `5m`. */
  readonly clockTolerance?: Duration;
  /** Least time between two JWKS fetches caused by unknown `kid`s. Default `30s`. */
  readonly jwksCooldown?: Duration;
  /** The JWKS is fetched again in the background when older than this. Default `5m`. */
  readonly jwksMaxAge?: Duration;
  /** Default: global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** Told of stream (re)connections and failures, for logs. Never given a token or secret. */
  readonly onEvent?: (event: VerifierEvent) => void;
  /** DPoP-bound tokens (RFC 9449); see `VerifierDpopOptions`. Bound tokens are always checked: this tunes how. */
  readonly dpop?: VerifierDpopOptions;
}

/** What a verifier reports about its sources. */
export type VerifierEvent =
  | { readonly type: 'stream_connected'; readonly snapshot: boolean }
  | { readonly type: 'stream_error'; readonly message: string }
  | { readonly type: 'revocations'; readonly count: number }
  | { readonly type: 'jwks_fetched'; readonly keys: number }
  | { readonly type: 'jwks_error'; readonly message: string };

/** Options after validation; durations in ms. */
export interface ResolvedVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly SigningAlgorithm[];
  readonly jwksUrl: string | null;
  readonly keys: { readonly keys: readonly PublicJwk[] } | null;
  readonly revocations:
    | (Required<Pick<RevocationStreamSource, 'url' | 'clientId' | 'clientSecret' | 'onStale' | 'introspectionUrl'>> & {
        readonly staleAfterMs: number;
        /** Null when not acknowledging. */
        readonly ackUrl: string | null;
        readonly handleCacheTtlMs: number;
      })
    | false;
  readonly clockToleranceS: number;
  readonly jwksCooldownMs: number;
  readonly jwksMaxAgeMs: number;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly onEvent: (event: VerifierEvent) => void;
  readonly dpop: {
    readonly required: boolean;
    readonly replay: ProofReplayStore | null;
    readonly windowMs: number;
    readonly nonces: DpopNonceSource | null;
    readonly origin: string | null;
  };
}

function httpUrl(value: unknown, what: string): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new ConfigError(`createVerifier: ${what} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`createVerifier: ${what} must be an http(s) URL`);
  return url.href;
}

function bounded(value: Duration, what: string, minS: number, maxS: number): number {
  const s = parseDuration(value, `createVerifier: ${what}`);
  if (s < minS || s > maxS) throw new ConfigError(`createVerifier: ${what} must be between ${minS}s and ${maxS}s, got ${JSON.stringify(value)}`);
  return s;
}

/** Checks every option once, with a message naming the field, and fills in defaults. */
export function resolveVerifierOptions(o: VerifierOptions): ResolvedVerifierOptions {
  if (typeof o !== 'object' || o === null) throw new ConfigError('createVerifier: options are required');
  if (typeof o.issuer !== 'string' || o.issuer === '') throw new ConfigError('createVerifier: issuer is required (the auth server\'s TOKENSTILE_ISSUER)');
  httpUrl(o.issuer, 'issuer');
  if (typeof o.audience !== 'string' || o.audience === '') throw new ConfigError('createVerifier: audience is required (the auth server\'s TOKENSTILE_AUDIENCE)');
  if (!Array.isArray(o.algorithms) || o.algorithms.length === 0) throw new ConfigError(`createVerifier: algorithms is required, e.g. ['ES256'] (the auth server's TOKENSTILE_SIGNING_ALG)`);
  for (const alg of o.algorithms) {
    if (!signingAlgorithms.includes(alg)) throw new ConfigError(`createVerifier: algorithms may contain ${signingAlgorithms.join(', ')}, got ${JSON.stringify(alg)}`);
  }
  if ((o.jwksUrl === undefined) === (o.keys === undefined)) throw new ConfigError('createVerifier: give exactly one of jwksUrl (usually `${issuer}/.well-known/jwks.json`) or keys');
  if (o.keys !== undefined && (typeof o.keys !== 'object' || !Array.isArray(o.keys?.keys))) throw new ConfigError('createVerifier: keys must be a JWK set, { keys: [...] }');
  if (o.revocations === undefined) {
    throw new ConfigError('createVerifier: revocations is required: { clientId, clientSecret } to honour logouts at once, or false to accept tokens until they expire');
  }
  const base = o.issuer.replace(/\/+$/, '');
  let revocations: ResolvedVerifierOptions['revocations'] = false;
  if (o.revocations !== false) {
    const r = o.revocations;
    if (typeof r !== 'object' || r === null) throw new ConfigError('createVerifier: revocations must be { clientId, clientSecret, … } or false');
    if (typeof r.clientId !== 'string' || r.clientId === '') throw new ConfigError('createVerifier: revocations.clientId is required');
    if (typeof r.clientSecret !== 'string' || r.clientSecret === '') throw new ConfigError('createVerifier: revocations.clientSecret is required');
    const onStale = r.onStale ?? 'refuse';
    if (onStale !== 'refuse' && onStale !== 'introspect') throw new ConfigError(`createVerifier: revocations.onStale must be "refuse" or "introspect", got ${JSON.stringify(onStale)}`);
    if (r.acknowledge !== undefined && typeof r.acknowledge !== 'boolean') throw new ConfigError(`createVerifier: revocations.acknowledge must be true or false, got ${JSON.stringify(r.acknowledge)}`);
    const url = httpUrl(r.url ?? `${base}/revocations/stream`, 'revocations.url');
    revocations = {
      url,
      ackUrl: r.acknowledge === true ? httpUrl(r.ackUrl ?? `${url.replace(/\/+$/, '')}/ack`, 'revocations.ackUrl') : null,
      clientId: r.clientId,
      clientSecret: r.clientSecret,
      onStale,
      introspectionUrl: httpUrl(r.introspectionUrl ?? `${base}/oauth/introspect`, 'revocations.introspectionUrl'),
      staleAfterMs: bounded(r.staleAfter ?? '2s', 'revocations.staleAfter', 1, 3600) * 1000,
      handleCacheTtlMs: bounded(r.handleCacheTtl ?? '30s', 'revocations.handleCacheTtl', 0, 300) * 1000,
    };
  }
  if (o.fetch !== undefined && typeof o.fetch !== 'function') throw new ConfigError('createVerifier: fetch must be a function');
  if (o.now !== undefined && typeof o.now !== 'function') throw new ConfigError('createVerifier: now must be a function');
  const d = o.dpop ?? {};
  if (typeof d !== 'object' || d === null) throw new ConfigError('createVerifier: dpop must be an object');
  if (d.required !== undefined && typeof d.required !== 'boolean') throw new ConfigError('createVerifier: dpop.required must be true or false');
  if (d.replay !== undefined && typeof d.replay?.claim !== 'function') throw new ConfigError('createVerifier: dpop.replay must have a claim(key, ttlMs) method');
  if (d.nonces !== undefined && (typeof d.nonces?.current !== 'function' || typeof d.nonces?.valid !== 'function')) throw new ConfigError('createVerifier: dpop.nonces must have current() and valid(nonce) methods');
  const clockToleranceS = bounded(o.clockTolerance ?? '5s', 'clockTolerance', 0, 300);
  return Object.freeze({
    issuer: o.issuer,
    audience: o.audience,
    algorithms: Object.freeze([...o.algorithms]),
    jwksUrl: o.jwksUrl === undefined ? null : httpUrl(o.jwksUrl, 'jwksUrl'),
    keys: o.keys ?? null,
    revocations,
    clockToleranceS,
    jwksCooldownMs: bounded(o.jwksCooldown ?? '30s', 'jwksCooldown', 0, 3600) * 1000,
    jwksMaxAgeMs: bounded(o.jwksMaxAge ?? '5m', 'jwksMaxAge', 1, 86400) * 1000,
    fetch: o.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args)),
    now: o.now ?? Date.now,
    onEvent: o.onEvent ?? (() => {}),
    dpop: Object.freeze({
      required: d.required === true,
      replay: d.replay ?? null,
      windowMs: (bounded(d.proofWindow ?? '60s', 'dpop.proofWindow', 1, 600) + clockToleranceS) * 1000,
      nonces: d.nonces ?? null,
      origin: d.origin === undefined ? null : new URL(httpUrl(d.origin, 'dpop.origin')).origin,
    }),
  });
}
