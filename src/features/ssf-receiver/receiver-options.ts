import { parseDuration, type Duration } from '../../core/duration.ts';
import { ConfigError } from '../../core/errors.ts';
import { isLoopback } from '../social/provider-options.ts';

/** Subject identifier formats (RFC 9493) a receiver may match to Tokenstile users and sessions. */
export const subjectFormats = ['email', 'iss_sub', 'opaque', 'complex'] as const;
export type SubjectFormat = (typeof subjectFormats)[number];

/** CAEP events a receiver may act on: `session-revoked`, and `credential-change` (revoke or delete of a credential). */
export const receiverEvents = ['session-revoked', 'credential-change'] as const;
export type ReceiverEvent = (typeof receiverEvents)[number];

/** JWS algorithms with a public key: a SET is never accepted unsigned or with a MAC. */
export const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/**
 * One upstream Shared Signals transmitter this server receives Security Event Tokens from
 * (`sharedSignalsReceivers`, or the JSON array in `TOKENSTILE_SSF_RECEIVERS`; docs/shared-signals.md#receiver-ending-sessions-when-an-upstream-says-so).
 *
 * @example
 * [{ "id": "acme", "issuer": "https://idp.acme.example", "delivery": { "method": "push", "secret": "…32+ characters…" } },
 *  { "id": "corp", "issuer": "https://ssf.corp.example", "delivery": { "method": "poll", "endpoint": "https://ssf.corp.example/poll/1", "authorization": "Bearer …" } }]
 */
export interface SharedSignalsReceiverOptions {
  /** Its id in the push path (`/ssf/receivers/<id>/events`) and in the audit trail: 1–32 of `a-z 0-9 -`. */
  readonly id: string;
  /** The transmitter's issuer: the `iss` its SETs must carry, and where its metadata is found. */
  readonly issuer: string;
  /** Its signing keys. Default: `jwks_uri` of its metadata (`/.well-known/ssf-configuration`). */
  readonly jwksUri?: string;
  /** What `aud` must hold. Default: this server's issuer. */
  readonly audience?: string;
  /** How SETs arrive: pushed to us (RFC 8935) or polled by us (RFC 8936). */
  readonly delivery: PushDeliveryOptions | PollDeliveryOptions;
  /** Which subject formats are matched. Default: all (`email`, `iss_sub`, `opaque`, `complex`). */
  readonly subjects?: readonly SubjectFormat[];
  /** Which events end sessions. Default: `session-revoked` only. */
  readonly events?: readonly ReceiverEvent[];
  /** Signature algorithms accepted. Default: RS256, PS256, ES256, EdDSA. */
  readonly algorithms?: readonly string[];
  /** SETs issued (`iat`) longer ago are refused; their `jti`s are remembered this long. Default `7d`. */
  readonly maxAge?: Duration;
  /** Register a stream at the transmitter's `configuration_endpoint` when the server starts (once: it is recorded). */
  readonly createStream?: CreateStreamOptions;
}

/** SETs pushed to `POST /ssf/receivers/<id>/events` with `Authorization: Bearer <secret>`. */
export interface PushDeliveryOptions {
  readonly method: 'push';
  /** The bearer token the transmitter sends: at least 32 characters. */
  readonly secret: string;
}

/** SETs polled from the transmitter's endpoint. */
export interface PollDeliveryOptions {
  readonly method: 'poll';
  /** The transmitter's poll endpoint. Default: the one the stream created by `createStream` names. */
  readonly endpoint?: string;
  /** The `Authorization` header value sent with each poll (e.g. `Bearer …`). */
  readonly authorization: string;
  /** At most this many SETs per answer. Default 25. */
  readonly maxEvents?: number;
}

/** A stream to register at the transmitter. */
export interface CreateStreamOptions {
  /** The `Authorization` header value for its `configuration_endpoint`. */
  readonly authorization: string;
  /** Where the transmitter pushes (push only). Default: this server's issuer + `/ssf/receivers/<id>/events`. */
  readonly endpointUrl?: string;
  readonly description?: string;
}

/** A checked receiver. Times in ms. */
export interface ReceiverSettings {
  readonly id: string;
  readonly issuer: string;
  readonly jwksUri: URL | null;
  readonly audience: string;
  readonly delivery:
    | { readonly method: 'push'; readonly secret: string }
    | { readonly method: 'poll'; readonly endpoint: URL | null; readonly authorization: string; readonly maxEvents: number };
  readonly subjects: ReadonlySet<SubjectFormat>;
  readonly events: ReadonlySet<ReceiverEvent>;
  readonly algorithms: readonly string[];
  readonly maxAgeMs: number;
  readonly createStream: { readonly authorization: string; readonly endpointUrl: string; readonly description: string | null } | null;
}

/** Where a pushed SET for receiver `id` is posted, below `issuer`. */
export function pushPath(id: string): string {
  return `/ssf/receivers/${id}/events`;
}

const idPattern = /^[a-z0-9-]{1,32}$/;
const day = 24 * 3600_000;
const known = new Set(['id', 'issuer', 'jwksUri', 'audience', 'delivery', 'subjects', 'events', 'algorithms', 'maxAge', 'createStream']);
const defaultAlgorithms = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** `text` as an https:// URL (http:// only on loopback), with no fragment or credentials. */
export function upstreamUrl(text: unknown, what: string): URL {
  if (typeof text !== 'string' || !URL.canParse(text)) throw new ConfigError(`${what} must be an absolute URL`);
  const url = new URL(text);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) throw new ConfigError(`${what} must be https:// (http:// only on loopback)`);
  if (url.hash || url.username || url.password) throw new ConfigError(`${what} must have no fragment or credentials`);
  return url;
}

function text(value: unknown, what: string, minLength = 1): string {
  if (typeof value !== 'string' || value.length < minLength || value.length > 4096) throw new ConfigError(`${what} must be a string of ${minLength} to 4096 characters`);
  return value;
}

/** A header value: printable, no line breaks. */
function headerValue(value: unknown, what: string): string {
  const v = text(value, what);
  if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(v)) throw new ConfigError(`${what} must be a header value (printable ASCII, no line breaks)`);
  return v;
}

function list<T extends string>(value: unknown, allowed: readonly T[], fallback: readonly T[], what: string): T[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError(`${what} must be a non-empty array of ${allowed.join(', ')}`);
  for (const v of value) if (!allowed.includes(v as T)) throw new ConfigError(`${what}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  return [...new Set(value as T[])];
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function onlyKnown(o: Record<string, unknown>, keys: readonly string[], what: string): void {
  for (const key of Object.keys(o)) if (!keys.includes(key)) throw new ConfigError(`${what}.${key} is not a known setting (${keys.join(', ')})`);
}

function delivery(value: unknown, what: string, hasStream: boolean): ReceiverSettings['delivery'] {
  const d = object(value, what);
  if (d.method === 'push') {
    onlyKnown(d, ['method', 'secret'], what);
    const secret = headerValue(d.secret, `${what}.secret`);
    if (secret.length < 32) throw new ConfigError(`${what}.secret must be at least 32 characters (a random token, e.g. openssl rand -base64 32)`);
    return { method: 'push', secret };
  }
  if (d.method === 'poll') {
    onlyKnown(d, ['method', 'endpoint', 'authorization', 'maxEvents'], what);
    const endpoint = d.endpoint === undefined ? null : upstreamUrl(d.endpoint, `${what}.endpoint`);
    if (endpoint === null && !hasStream) throw new ConfigError(`${what}.endpoint is required unless createStream registers a stream (whose endpoint is then used)`);
    const maxEvents = d.maxEvents ?? 25;
    if (!Number.isInteger(maxEvents) || (maxEvents as number) < 1 || (maxEvents as number) > 1000) throw new ConfigError(`${what}.maxEvents must be a whole number from 1 to 1000`);
    return { method: 'poll', endpoint, authorization: headerValue(d.authorization, `${what}.authorization`), maxEvents: maxEvents as number };
  }
  throw new ConfigError(`${what}.method must be "push" or "poll"`);
}

function createStream(value: unknown, what: string, id: string, ourIssuer: string): ReceiverSettings['createStream'] {
  if (value === undefined) return null;
  const c = object(value, what);
  onlyKnown(c, ['authorization', 'endpointUrl', 'description'], what);
  const endpointUrl = c.endpointUrl === undefined ? `${ourIssuer.replace(/\/+$/, '')}${pushPath(id)}` : upstreamUrl(c.endpointUrl, `${what}.endpointUrl`).href;
  const description = c.description === undefined ? null : text(c.description, `${what}.description`);
  return { authorization: headerValue(c.authorization, `${what}.authorization`), endpointUrl, description };
}

function receiver(value: unknown, what: string, ourIssuer: string): ReceiverSettings {
  const r = object(value, what);
  for (const key of Object.keys(r)) if (!known.has(key)) throw new ConfigError(`${what}.${key} is not a known setting (${[...known].join(', ')})`);
  if (typeof r.id !== 'string' || !idPattern.test(r.id)) throw new ConfigError(`${what}.id must be 1 to 32 of a-z, 0-9 and -`);
  upstreamUrl(r.issuer, `${what}.issuer`);
  const algorithms = list(r.algorithms, asymmetricAlgorithms, defaultAlgorithms as (typeof asymmetricAlgorithms)[number][], `${what}.algorithms`);
  const maxAgeMs = Math.round(parseDuration((r.maxAge as Duration | undefined) ?? '7d', `${what}.maxAge`) * 1000);
  if (maxAgeMs < 60_000 || maxAgeMs > 90 * day) throw new ConfigError(`${what}.maxAge must be between 60s and 90d`);
  return {
    id: r.id,
    // As given: `iss` is compared with it as a string (RFC 7519), so no normalization.
    issuer: r.issuer as string,
    jwksUri: r.jwksUri === undefined ? null : upstreamUrl(r.jwksUri, `${what}.jwksUri`),
    audience: r.audience === undefined ? ourIssuer : text(r.audience, `${what}.audience`),
    delivery: delivery(r.delivery, `${what}.delivery`, r.createStream !== undefined),
    subjects: new Set(list(r.subjects, subjectFormats, subjectFormats, `${what}.subjects`)),
    events: new Set(list(r.events, receiverEvents, ['session-revoked'], `${what}.events`)),
    algorithms,
    maxAgeMs,
    createStream: createStream(r.createStream, `${what}.createStream`, r.id, ourIssuer),
  };
}

/**
 * Checks `sharedSignalsReceivers` (a list, or that list as JSON text) once at startup. Throws a
 * `ConfigError` naming the field (`sharedSignalsReceivers[0].delivery.secret must …`). Empty when
 * unset: the receiver is off.
 */
export function parseReceivers(value: string | readonly object[] | undefined, ourIssuer: string): ReceiverSettings[] {
  if (value === undefined || value === '') return [];
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new ConfigError('sharedSignalsReceivers must be a JSON array of receivers ({id, issuer, delivery, …})');
    }
  }
  if (!Array.isArray(parsed)) throw new ConfigError('sharedSignalsReceivers must be an array of receivers ({id, issuer, delivery, …})');
  const receivers = parsed.map((r, i) => receiver(r, `sharedSignalsReceivers[${i}]`, ourIssuer));
  const ids = new Set<string>();
  for (const [i, r] of receivers.entries()) {
    if (ids.has(r.id)) throw new ConfigError(`sharedSignalsReceivers[${i}].id ${JSON.stringify(r.id)} is used twice`);
    ids.add(r.id);
  }
  return receivers;
}
