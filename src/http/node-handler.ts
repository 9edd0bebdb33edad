import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AuthInfo } from '../core/auth-info.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { EventSink } from './http-types.ts';
import { problem, problemContentType } from './problem.ts';
import type { IncomingHttp } from './request-handler.ts';
import { createServerHandler, type HandlerOptions } from './server-handler.ts';

export type { HandlerOptions } from './server-handler.ts';

/**
 * A Node `(req, res, next?)` handler serving Tokenstile's routes: Express 4 and 5, Connect, and
 * `node:http` alike. With `next` (Express, Connect), requests that match no Tokenstile route go on
 * to the host app; without it they get 404 problem+json.
 */
export interface NodeHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** The core behind the routes (revoke sessions, rotate keys, read the audit trail). */
  readonly tokenstile: Tokenstile;
  /**
   * Middleware for the host app's own routes (Express, Connect): checks the caller as Tokenstile's
   * protected routes do — `Authorization: Bearer`, or the access cookie with the origin and
   * `X-CSRF-Token` checks on POST, PUT, PATCH and DELETE, and the in-memory revocation check — then
   * sets `req.auth` and calls `next()`, or answers 401 (RFC 6750 `WWW-Authenticate`) or 403
   * `csrf_failed` as problem+json.
   *
   * @example
   * ```ts
   * app.get('/api/notes', auth.protect(), (req, res) => {
   *   res.json(notesOf(callerOf(req).userId));
   * });
   * ```
   */
  protect(): ProtectMiddleware;
  /** Answers 503 to new requests, ends the revocation streams, closes the core and the stores it opened. */
  close(): Promise<void>;
}

/** A request that passed `protect()`: `req.auth` is the caller. */
export interface AuthenticatedRequest extends IncomingMessage {
  auth: AuthInfo;
}

const callers = new WeakMap<IncomingMessage, AuthInfo>();

/**
 * The caller of a request that passed `protect()`, typed (the same object as `req.auth`, which
 * TypeScript does not know of on Express's `Request`). Throws when the route lacks `protect()`:
 * a programming error, not a client's.
 */
export function callerOf(req: IncomingMessage): AuthInfo {
  const caller = callers.get(req);
  if (caller === undefined) throw new Error('callerOf: this route is not behind protect()');
  return caller;
}

/** What `NodeHandler.protect()` returns: Express / Connect middleware. */
export type ProtectMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What a body parser mounted before the handler may have left on the request (Express's `req.body`). */
interface ParsedRequest extends IncomingMessage {
  body?: unknown;
  originalUrl?: string;
}

/** Reads a request's body, stopping at `limit` bytes. */
function readBody(req: ParsedRequest, limit: number): Promise<Buffer | 'too_large'> {
  // A body parser mounted in front took the stream: use what it parsed.
  if (req.readableEnded && req.body !== undefined) {
    const body = req.body;
    const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return Promise.resolve(raw.length > limit ? 'too_large' : raw);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        // The rest is read and dropped, so that the answer can still be written.
        req.resume();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** The request as the pipeline takes it. */
function incoming(req: ParsedRequest, res: ServerResponse): IncomingHttp {
  return {
    method: req.method ?? 'GET',
    // Express strips its mount path from `req.url`; the routes match the full path against `prefix`.
    url: req.originalUrl ?? req.url ?? '/',
    headers: req.headers,
    peer: req.socket?.remoteAddress ?? null,
    encrypted: (req.socket as TLSSocket | undefined)?.encrypted === true,
    readBody: (limit) => readBody(req, limit),
    eventStream(headers): EventSink {
      res.writeHead(200, headers);
      res.socket?.setNoDelay(true);
      return res;
    },
  };
}

/**
 * Serves Tokenstile's routes (the contract's `/auth/*`, `/oauth/*`, `/.well-known/*`, the
 * revocation stream, the account page, `/healthz`, `/readyz`, `/metrics`, `/docs/json`) as a Node
 * request handler, with the same behaviour as the standalone server: cookie transport with CSRF
 * and origin checks, CORS, rate limits, the trust-proxy rules, problem+json.
 *
 * Mount it before any body parser, or at least before one that would read its routes' bodies.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createNodeHandler } from 'tokenstile/node';
 *
 * const auth = await createNodeHandler({ issuer: 'https://app.example.com', databaseUrl: 'sqlite:./auth.db' });
 * const app = express();
 * app.use(auth); // /auth/*, /.well-known/*, …; anything else goes on to your routes
 * app.listen(3000);
 * process.on('SIGTERM', () => auth.close());
 * ```
 */
export async function createNodeHandler(options: HandlerOptions): Promise<NodeHandler> {
  const server = await createServerHandler(options);
  const handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    server.handle(incoming(req, res), next === undefined).then(
      (answer) => {
        if (answer === null) next?.();
        else if (answer !== 'streamed') res.writeHead(answer.status, answer.headers).end(answer.body ?? undefined);
      },
      (err: unknown) => {
        // The pipeline answers every error itself; this is a bug, kept from becoming an unhandled rejection.
        options.logger?.error({ err: { message: (err as Error)?.message } }, 'tokenstile: unexpected error');
        if (!res.headersSent) res.writeHead(500, { 'content-type': problemContentType }).end(JSON.stringify(problem('internal_error')));
        else res.destroy();
      },
    );
  };
  const protect = (): ProtectMiddleware => (req, res, next) => {
    // Express's originalUrl keeps the mount path a router strips from url.
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url;
    const input = { method: req.method ?? 'GET', headers: req.headers, peer: req.socket?.remoteAddress ?? null, encrypted: (req.socket as TLSSocket | undefined)?.encrypted === true, ...(url !== undefined && { url }) };
    server.guard(input).then((verdict) => {
      if (!verdict.ok) {
        res.writeHead(verdict.answer.status, verdict.answer.headers).end(verdict.answer.body ?? undefined);
        return;
      }
      callers.set(req, verdict.auth);
      (req as AuthenticatedRequest).auth = verdict.auth;
      next();
    }, next);
  };
  return Object.assign(handler, { tokenstile: server.tokenstile, protect, close: () => server.close() });
}
