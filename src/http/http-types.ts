import type { AuthInfo } from '../core/auth-info.ts';

/**
 * The framework-neutral request a Tokenstile route sees. A Fastify request has these members
 * (the Fastify adapter passes it as it is); the Node and fetch adapters build one per request.
 */
export interface HttpRequest {
  /** Upper case, e.g. `POST`. */
  readonly method: string;
  /** Header values by lower-case name. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Request cookies by name (`@fastify/cookie`'s parsing in every adapter). */
  readonly cookies: Readonly<Record<string, string | undefined>>;
  /** The client IP, after the trust-proxy rules; null when unknown. */
  readonly ip: string | null | undefined;
  /** `http` or `https`, after the trust-proxy rules (`X-Forwarded-Proto`). */
  readonly protocol: string;
  /** The `Host` the request was sent to, after the trust-proxy rules (`X-Forwarded-Host`). */
  readonly host: string;
  /** Path parameters (`:id`). */
  readonly params: unknown;
  /**
   * Path and query as sent, with the mount prefix (`/auth/oauth/acme/callback?code=…`): for the
   * routes that read a query string. Set on every route request; absent when a host app's own
   * routes are guarded (`protect`).
   */
  readonly url?: string;
  /** The parsed and validated body (JSON or form), undefined when none was sent. */
  body: unknown;
  /** Who is calling; set by the authenticate step, null on routes without it. */
  auth: AuthInfo | null;
}

/** Attributes of a `Set-Cookie` the routes send (a subset of `@fastify/cookie`'s). */
export interface CookieAttributes {
  readonly path: string;
  readonly httpOnly: boolean;
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict';
  /** Seconds; absent on a clearing cookie (which gets `Expires` in the past and `Max-Age=0`). */
  readonly maxAge?: number;
}

/**
 * A server-sent events connection opened by a route: what the revocation stream writes to.
 * Node's `ServerResponse` fits (Fastify and Node adapters); the fetch adapter backs one with a
 * `ReadableStream`.
 */
export interface EventSink {
  /** Queues text; never blocks. */
  write(text: string): unknown;
  /** Bytes written but not yet taken by the connection. */
  readonly writableLength: number;
  /** Ends the stream cleanly. */
  end(): unknown;
  /** Drops the connection. */
  destroy(): unknown;
  on(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * The framework-neutral reply a route writes, shaped as the part of Fastify's reply the routes
 * use, so that the Fastify adapter is a thin wrapper.
 */
export interface HttpReply {
  code(status: number): HttpReply;
  header(name: string, value: string): HttpReply;
  getHeader(name: string): unknown;
  hasHeader(name: string): boolean;
  removeHeader(name: string): HttpReply;
  /** Sets `content-type`. */
  type(contentType: string): HttpReply;
  setCookie(name: string, value: string, attributes: CookieAttributes): HttpReply;
  clearCookie(name: string, attributes: CookieAttributes): HttpReply;
  /** Sends the answer: an object is serialized as JSON, a string or buffer as it is. */
  send(body?: unknown): HttpReply;
  /** True once `send` (or `eventStream`) was called. */
  readonly sent: boolean;
  /** Answers 200 with these headers and hands over the connection for server-sent events. */
  eventStream(headers: Readonly<Record<string, string>>): EventSink;
}

/**
 * How a route's body is read: JSON only, an OAuth form, a Security Event Token
 * (`application/secevent+jwt`, RFC 8417: the body is its text, trimmed), or none expected.
 */
export type BodyKind = 'json' | 'form' | 'secevent' | 'none';

/** The JSON Schemas and OpenAPI details of a route (Fastify's `schema` shape). */
export interface RouteSchema {
  readonly tags?: readonly string[];
  readonly summary?: string;
  readonly description?: string;
  readonly security?: ReadonlyArray<Record<string, readonly string[]>>;
  readonly hide?: boolean;
  readonly consumes?: readonly string[];
  readonly produces?: readonly string[];
  readonly body?: object;
  readonly params?: object;
  readonly headers?: object;
  readonly response?: Readonly<Record<number, object>>;
}

/** What a route handler returns: the reply once sent, or a value answered as JSON (200 unless set). */
export type RouteResult = unknown;

/**
 * One route, defined once for every adapter. `url` uses `:name` for path parameters.
 *
 * The request goes through, in order: `authenticate` (when set: 401/403 problem or
 * `request.auth`), `preValidation`, body validation against `schema.body` (400 naming the field),
 * `preHandler`, then `handler`.
 */
export interface RouteDefinition {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  readonly url: string;
  readonly schema: RouteSchema;
  /** Which body parser the route's group uses. */
  readonly body: BodyKind;
  /** The group's behaviour: `api` (no-store, CORS for allowed origins), `oauth` (no-store, OAuth error members), `plain`. */
  readonly group: 'api' | 'oauth' | 'stream' | 'plain';
  readonly authenticate?: boolean;
  readonly preValidation?: (request: HttpRequest) => void | Promise<void>;
  /**
   * Runs after validation, before `handler`; false once it has answered (the handler then does
   * not run). The sign-in and refresh routes check the DPoP proof here (`checkSignInProof`).
   */
  readonly preHandler?: (request: HttpRequest, reply: HttpReply) => Promise<boolean>;
  readonly handler: (request: HttpRequest, reply: HttpReply) => Promise<RouteResult>;
}
