import type { AuthInfo } from '../core/auth-info.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { EventSink } from './http-types.ts';
import type { HttpAnswer } from './neutral-reply.ts';
import type { IncomingHttp } from './request-handler.ts';
import { createServerHandler, type HandlerOptions } from './server-handler.ts';

export type { HandlerOptions } from './server-handler.ts';

/** What the runtime knows of the connection, which a `Request` does not carry. */
export interface ConnectionInfo {
  /** The peer's IP (Bun: `server.requestIP(request)?.address`; Deno: `info.remoteAddr.hostname`). */
  readonly remoteAddress?: string | null;
}

/**
 * A Web `fetch` handler serving Tokenstile's routes: Next.js route handlers, Hono, Bun, Deno,
 * Cloudflare-style runtimes with Node APIs. Requests that match no route get 404 problem+json.
 */
export interface FetchHandler {
  (request: Request, connection?: ConnectionInfo): Promise<Response>;
  /** The core behind the routes (revoke sessions, rotate keys, read the audit trail). */
  readonly tokenstile: Tokenstile;
  /**
   * Checks a request to one of your own routes as Tokenstile's protected routes are checked:
   * `Authorization: Bearer`, or the access cookie with the origin and `X-CSRF-Token` checks on
   * POST, PUT, PATCH and DELETE, and the in-memory revocation check. Resolves to the caller, or
   * to the 401 (RFC 6750 `WWW-Authenticate`) / 403 `csrf_failed` problem+json `Response` to send.
   */
  authenticate(request: Request, connection?: ConnectionInfo): Promise<AuthInfo | Response>;
  /**
   * Hono middleware over `authenticate`: sets `c.set('auth', …)` and calls `next()`, or answers
   * the problem. The peer address is read from `@hono/node-server`'s `c.env.incoming` unless
   * `connection` says otherwise.
   *
   * @example
   * ```ts
   * const app = new Hono<{ Variables: { auth: AuthInfo } }>();
   * app.get('/api/notes', auth.protect(), (c) => c.json(notesOf(c.get('auth').userId)));
   * ```
   */
  protect(options?: ProtectOptions): HonoMiddleware;
  /** Answers 503 to new requests, ends the revocation streams, closes the core and the stores it opened. */
  close(): Promise<void>;
}

/** The part of Hono's `Context` the middleware uses (Hono stays an optional peer). */
export interface HonoContext {
  readonly req: { readonly raw: Request };
  readonly env?: unknown;
  set(key: 'auth', value: AuthInfo): void;
}

/** What `FetchHandler.protect()` returns: a Hono middleware. */
export type HonoMiddleware = (c: HonoContext, next: () => Promise<void>) => Promise<Response | void>;

/** Options of `FetchHandler.protect()`. */
export interface ProtectOptions {
  /** The connection of a request (its peer address); default: `@hono/node-server`'s `c.env.incoming.socket`. */
  readonly connection?: (c: HonoContext) => ConnectionInfo;
}

/** The peer address `@hono/node-server` leaves in `c.env`, when it is there. */
function nodeServerConnection(c: HonoContext): ConnectionInfo {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return { remoteAddress: env?.incoming?.socket?.remoteAddress ?? null };
}

/** An adapter's answer as a `Response`. */
function toResponse(answer: HttpAnswer): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  headers.delete('content-length');
  const body = answer.status === 204 || answer.status === 304 || answer.body === null ? null : typeof answer.body === 'string' ? answer.body : new Uint8Array(answer.body);
  return new Response(body, { status: answer.status, headers });
}

/**
 * A Next.js route handler (or any `(request, context) => Response` function) that runs only for
 * an authenticated caller: `route` gets the caller as its second argument; anyone else gets the
 * 401 / 403 problem+json answer of `FetchHandler.authenticate`. `auth` may be the promise
 * `createFetchHandler` returns, so a module can export the wrapped handler directly.
 *
 * @example
 * ```ts
 * // app/api/notes/route.ts
 * import { withAuth } from 'tokenstile/fetch';
 * import { auth } from '../../../lib/auth';
 *
 * export const GET = withAuth(auth, async (request, caller) => Response.json(await notesOf(caller.userId)));
 * export const runtime = 'nodejs';
 * ```
 */
export function withAuth<C = unknown>(
  auth: FetchHandler | Promise<FetchHandler>,
  route: (request: Request, caller: AuthInfo, context: C) => Response | Promise<Response>,
): (request: Request, context: C) => Promise<Response> {
  return async (request, context) => {
    const verdict = await (await auth).authenticate(request);
    return verdict instanceof Response ? verdict : route(request, verdict, context);
  };
}

/** Reads a request's body, stopping at `limit` bytes. */
async function readBody(request: Request, limit: number): Promise<Buffer | 'too_large'> {
  if (request.body === null) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return 'too_large';
    }
    chunks.push(value);
  }
}

/**
 * A server-sent events stream as a `ReadableStream`. What is queued and not yet read counts as
 * pending (`writableLength`), so the revocation stream drops a client that does not read.
 */
function eventStream(): { sink: EventSink; body: ReadableStream<Uint8Array> } {
  const encoder = new TextEncoder();
  const listeners = { drain: [] as Array<() => void>, close: [] as Array<() => void> };
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const closeOnce = () => {
    if (closed) return;
    closed = true;
    for (const l of listeners.close) l();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        for (const l of listeners.drain) l();
      },
      cancel: closeOnce,
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
  );
  const sink: EventSink = {
    write(text) {
      if (!closed) controller.enqueue(encoder.encode(text));
    },
    get writableLength() {
      return closed ? 0 : Math.max(0, -(controller.desiredSize ?? 0));
    },
    end() {
      if (!closed) controller.close();
      closeOnce();
    },
    destroy() {
      if (!closed) controller.error(new Error('revocation stream dropped'));
      closeOnce();
    },
    on(event, listener) {
      listeners[event].push(listener);
    },
  };
  return { sink, body };
}

/**
 * Serves Tokenstile's routes (the contract's `/auth/*`, `/oauth/*`, `/.well-known/*`, the
 * revocation stream as a `ReadableStream`, the account page, `/healthz`, `/readyz`, `/metrics`,
 * `/docs/json`) as a `(Request) => Promise<Response>` function, with the same behaviour as the
 * standalone server.
 *
 * @example
 * ```ts
 * // app/[...tokenstile]/route.ts (Next.js App Router; runtime = 'nodejs')
 * import { createFetchHandler } from 'tokenstile/fetch';
 *
 * const auth = createFetchHandler({ issuer: 'https://app.example.com', databaseUrl: 'sqlite:./auth.db' });
 * const handle = async (request: Request) => (await auth)(request);
 * export { handle as GET, handle as POST, handle as PATCH, handle as DELETE, handle as OPTIONS };
 * ```
 */
export async function createFetchHandler(options: HandlerOptions): Promise<FetchHandler> {
  const server = await createServerHandler(options);
  const handler = async (request: Request, connection?: ConnectionInfo): Promise<Response> => {
    const url = new URL(request.url);
    let streamed: { body: ReadableStream<Uint8Array>; headers: Readonly<Record<string, string>> } | null = null;
    const input: IncomingHttp = {
      method: request.method,
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(request.headers),
      peer: connection?.remoteAddress ?? null,
      encrypted: url.protocol === 'https:',
      readBody: (limit) => readBody(request, limit),
      eventStream(headers) {
        const { sink, body } = eventStream();
        streamed = { body, headers };
        // The client went away: the stream's close listeners clean up.
        request.signal?.addEventListener('abort', () => sink.destroy(), { once: true });
        return sink;
      },
    };
    const answer = await server.handle(input, true);
    if (answer === 'streamed' && streamed !== null) {
      const { body, headers } = streamed;
      return new Response(body, { status: 200, headers });
    }
    if (answer === null || answer === 'streamed') return new Response(null, { status: 500 });
    return toResponse(answer);
  };
  const authenticate = async (request: Request, connection?: ConnectionInfo): Promise<AuthInfo | Response> => {
    const verdict = await server.guard({
      method: request.method,
      headers: Object.fromEntries(request.headers),
      peer: connection?.remoteAddress ?? null,
      encrypted: new URL(request.url).protocol === 'https:',
      url: `${new URL(request.url).pathname}${new URL(request.url).search}`,
    });
    return verdict.ok ? verdict.auth : toResponse(verdict.answer);
  };
  const protect = (options: ProtectOptions = {}): HonoMiddleware => {
    const connectionOf = options.connection ?? nodeServerConnection;
    return async (c, next) => {
      const verdict = await authenticate(c.req.raw, connectionOf(c));
      if (verdict instanceof Response) return verdict;
      c.set('auth', verdict);
      await next();
    };
  };
  return Object.assign(handler, { tokenstile: server.tokenstile, authenticate, protect, close: () => server.close() });
}
