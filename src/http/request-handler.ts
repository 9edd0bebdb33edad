import { parseCookie } from 'cookie';
import type { Logger } from '../core/config.ts';
import { errorMessages, TokenstileError } from '../core/errors.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { authenticateCaller } from './authenticate.ts';
import type { BrowserConfig } from './browser-options.ts';
import { corsHeaders } from './cors.ts';
import type { EventSink, HttpRequest, RouteDefinition } from './http-types.ts';
import { NeutralReply, type HttpAnswer } from './neutral-reply.ts';
import { sendProblem } from './problem.ts';
import { bodyLimit, checkMediaType, parseBody } from './request-body.ts';
import { RouteMatcher } from './route-matcher.ts';
import { validatorFor } from './schema-validator.ts';
import { oauthErrorShape } from './routes/oauth.ts';
import { requestOrigin, type TrustProxyFunction } from './trust-proxy.ts';
import { fieldProblem } from './validation-problem.ts';

/** A request as an adapter hands it over. */
export interface IncomingHttp {
  readonly method: string;
  /** Path and query, as sent (`/auth/login?x=1`). */
  readonly url: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The peer's address (the socket's), or null when the runtime does not say. */
  readonly peer: string | null;
  /** True on a TLS connection. */
  readonly encrypted: boolean;
  /** The body's bytes, or `'too_large'` as soon as more than `limit` arrive. */
  readBody(limit: number): Promise<Buffer | 'too_large'>;
  /** Answers 200 with these headers and hands the connection to a route (server-sent events). */
  eventStream(headers: Readonly<Record<string, string>>): EventSink;
}

/** What `handle` answers: a complete answer, `'streamed'` (the route has the connection), or null (not one of ours). */
export type HandleResult = HttpAnswer | 'streamed' | null;

/** Everything the pipeline needs; built once by `createServerHandler`. */
export interface PipelineOptions {
  readonly core: Tokenstile;
  readonly browser: BrowserConfig;
  readonly routes: readonly RouteDefinition[];
  /** Mount path (`''` or `/auth-server`); requests outside it are not ours. */
  readonly prefix: string;
  readonly trust: TrustProxyFunction;
  /** True once the server is closing: every request is answered 503. */
  readonly closing: () => boolean;
  readonly logger?: Logger | undefined;
  /** Told of every answered request (metrics). */
  readonly observe?: ((method: string, route: string, status: number, seconds: number) => void) | undefined;
}

/** The CSP of HTML answers that set none of their own (as the standalone server's). */
const htmlPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/** Whether Fastify would parse a body of this request (its rules, so that both adapters agree). */
function hasBody(method: string, headers: IncomingHttp['headers']): boolean {
  const type = headers['content-type'];
  const length = headers['content-length'];
  const chunked = headers['transfer-encoding'] !== undefined;
  if (method === 'GET' || method === 'HEAD') return false;
  if (method === 'OPTIONS' || method === 'DELETE') return type !== undefined && (chunked || length !== undefined);
  return type !== undefined || chunked || (length !== undefined && length !== '0');
}

/**
 * The request pipeline of the Node and fetch adapters, in the order Fastify runs the same routes:
 * closing check, route match (404), group hooks (no-store, CORS), authenticate, body (415, 413,
 * 400), `preValidation`, schema validation (400 naming the field), handler; coded errors become
 * problem+json, anything else a 500 that says nothing of the cause.
 */
export function createPipeline(options: PipelineOptions): (incoming: IncomingHttp, notFound: boolean) => Promise<HandleResult> {
  const { core, browser, prefix, trust, logger } = options;
  const matcher = new RouteMatcher(options.routes, prefix);

  // `notFound`: answer requests that match no route with 404 (true), or leave them to the host (false: null).
  return async function handle(incoming, notFound) {
    const started = performance.now();
    const query = incoming.url.indexOf('?');
    const fullPath = query === -1 ? incoming.url : incoming.url.slice(0, query);
    if (prefix !== '' && fullPath !== prefix && !fullPath.startsWith(`${prefix}/`)) return null;
    const path = fullPath.slice(prefix.length) || '/';
    const method = incoming.method.toUpperCase();
    const stream = (headers: Readonly<Record<string, string>>) => incoming.eventStream(headers);
    const reply = new NeutralReply(stream);
    let pattern = 'unmatched';
    let group: RouteDefinition['group'] | null = null;
    try {
      if (options.closing()) {
        sendProblem(reply, 'service_unavailable', { detail: 'The server is shutting down; retry on another instance.', retryAfterMs: 1000 });
      } else {
        let match;
        try {
          decodeURIComponent(path);
          match = matcher.match(method, path);
        } catch {
          sendProblem(reply, 'invalid_request', { detail: 'The request URL is malformed.' });
          return finish();
        }
        if (match === null) {
          if (!notFound) return null;
          sendProblem(reply, 'not_found', { detail: `No route ${method} ${fullPath}.` });
          return finish();
        }
        pattern = match.pattern;
        group = match.route.group;
        await run(match.route, match.params, incoming, reply, method);
      }
    } catch (err) {
      if (reply.streamed) return 'streamed';
      answerError(err, reply, logger);
    }
    return finish();

    function finish(): HandleResult {
      if (reply.streamed) return 'streamed';
      if (!reply.sent) reply.send();
      if (group === 'oauth') reply.body = oauthErrorShape(incoming.headers.accept, reply, reply.body) as string | Buffer | null;
      reply.header('x-content-type-options', 'nosniff');
      if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
        if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', htmlPolicy);
        reply.header('x-frame-options', 'DENY');
        reply.header('referrer-policy', 'no-referrer');
      }
      if (options.closing()) reply.header('connection', 'close');
      const answer = reply.answer();
      options.observe?.(method, pattern, answer.status, (performance.now() - started) / 1000);
      return method === 'HEAD' ? { ...answer, body: null } : answer;
    }
  };

  async function run(route: RouteDefinition, params: Record<string, string>, incoming: IncomingHttp, reply: NeutralReply, method: string): Promise<void> {
    const origin = requestOrigin(trust, incoming.peer, incoming.encrypted, incoming.headers);
    const cookieHeader = incoming.headers.cookie;
    const request: HttpRequest = {
      method,
      headers: incoming.headers,
      cookies: typeof cookieHeader === 'string' ? parseCookie(cookieHeader) : {},
      ip: origin.ip,
      protocol: origin.protocol,
      host: origin.host,
      params,
      url: incoming.url,
      body: undefined,
      auth: null,
    };
    if (route.group === 'api' || route.group === 'oauth') {
      // Token responses must never be cached (RFC 6749 §5.1); nothing here is cacheable anyway.
      reply.header('cache-control', 'no-store');
      if (route.group === 'api') corsHeaders(request, reply, browser);
    }
    if (route.authenticate && !(await authenticateCaller(core, browser, request, reply))) return;
    if (hasBody(method, incoming.headers)) {
      const declared = Number(incoming.headers['content-length']);
      const kind = route.body === 'none' ? 'json' : route.body;
      // The media type is checked before any byte is read, the size before any is parsed.
      checkMediaType(kind, String(incoming.headers['content-type'] ?? ''));
      const raw = declared > bodyLimit ? 'too_large' : await incoming.readBody(bodyLimit);
      if (raw === 'too_large') throw new TokenstileError('payload_too_large', errorMessages.payload_too_large);
      request.body = parseBody(kind, raw);
    }
    await route.preValidation?.(request);
    for (const [part, schema, value] of [['params', route.schema.params, params], ['body', route.schema.body, request.body]] as const) {
      if (schema === undefined) continue;
      const validate = validatorFor(schema);
      if (!validate(value)) {
        sendProblem(reply, 'invalid_request', fieldProblem(validate.errors ?? [], part));
        return;
      }
    }
    if (route.preHandler && !(await route.preHandler(request, reply))) return;
    const result = await route.handler(request, reply);
    if (result !== reply && !reply.sent) reply.send(result);
  }
}

/** A thrown error as problem+json: coded errors keep their code, anything else is a 500. */
function answerError(err: unknown, reply: NeutralReply, logger: Logger | undefined): void {
  if (err instanceof TokenstileError) {
    if (err.code === 'service_unavailable') logger?.warn({ err: { message: err.message, cause: (err.cause as Error | undefined)?.message } }, 'tokenstile: store unavailable');
    sendProblem(reply, err.code, { detail: err.message, retryAfterMs: err.code === 'service_unavailable' ? 1000 : undefined });
    return;
  }
  logger?.error({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'tokenstile: unexpected error');
  sendProblem(reply, 'internal_error');
}
