import type { Tokenstile } from '../core/tokenstile.ts';
import type { EventSink } from './http-types.ts';
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
  /** Answers 503 to new requests, ends the revocation streams, closes the core and the stores it opened. */
  close(): Promise<void>;
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
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    headers.delete('content-length');
    const body = answer.status === 204 || answer.status === 304 || answer.body === null ? null : typeof answer.body === 'string' ? answer.body : new Uint8Array(answer.body);
    return new Response(body, { status: answer.status, headers });
  };
  return Object.assign(handler, { tokenstile: server.tokenstile, close: () => server.close() });
}
