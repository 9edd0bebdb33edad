import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Tokenstile } from '../core/tokenstile.ts';
import { authenticateCaller } from './authenticate.ts';
import type { BrowserConfig } from './browser-options.ts';
import { corsHeaders } from './cors.ts';
import { problemErrorHandler } from './fastify-errors.ts';
import type { HttpReply, RouteDefinition } from './http-types.ts';
import { bodyLimit, seceventType } from './request-body.ts';
import { formType, parseForm, oauthErrorShape } from './routes/oauth.ts';
import type { RouteSet } from './routes/route-context.ts';
import { validatorFor } from './schema-validator.ts';

/** An `onRequest`/`preHandler` hook: sets `request.auth` or answers 401 problem+json. */
export type AuthenticateHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** The Fastify hook over `authenticateCaller`: what `app.authenticate` is. */
export function createAuthenticate(core: Tokenstile, browser?: BrowserConfig): AuthenticateHook {
  return async function authenticate(request, reply) {
    // Once answered, wait for the answer to go out, so that Fastify runs no handler after it.
    const accepted = authenticateCaller(core, browser, request, () => fastifyReply(reply));
    if (!(accepted === true || (accepted !== false && (await accepted)))) await reply;
  };
}

/** A Fastify reply seen as the neutral reply the routes write. */
export function fastifyReply(reply: FastifyReply): HttpReply {
  const neutral: HttpReply = {
    code: (status) => (reply.code(status), neutral),
    header: (name, value) => (reply.header(name, value), neutral),
    getHeader: (name) => reply.getHeader(name),
    hasHeader: (name) => reply.hasHeader(name),
    removeHeader: (name) => (reply.removeHeader(name), neutral),
    type: (contentType) => (reply.type(contentType), neutral),
    setCookie: (name, value, attributes) => (reply.setCookie(name, value, attributes), neutral),
    clearCookie: (name, attributes) => (reply.clearCookie(name, attributes), neutral),
    send: (body) => (reply.send(body), neutral),
    get sent() {
      return reply.sent;
    },
    eventStream(headers) {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, headers);
      res.socket?.setNoDelay(true);
      return res;
    },
  };
  return neutral;
}

/** Serves one route definition in `app`'s context. */
function serve(app: FastifyInstance, def: RouteDefinition, authenticate: AuthenticateHook | undefined): void {
  if (def.authenticate && authenticate === undefined) throw new Error(`route ${def.method} ${def.url} needs the authenticate hook`);
  const pre = def.preValidation;
  app.route({
    method: def.method,
    url: def.url,
    schema: def.schema as FastifySchema,
    ...(def.authenticate && { onRequest: authenticate }),
    ...(pre && { preValidation: async (request: FastifyRequest) => void (await pre(request)) }),
    handler: async (request, reply) => {
      const neutral = fastifyReply(reply);
      if (def.preHandler && !(await def.preHandler(request, neutral))) return reply;
      const result = await def.handler(request, neutral);
      return result === neutral ? reply : result;
    },
  });
}

/** Sets up a group's encapsulated context: its body parser, validation, errors and hooks. */
function configureGroup(app: FastifyInstance, group: RouteDefinition['group'], browser: BrowserConfig | undefined, secevent: boolean): void {
  if (group === 'plain') return;
  app.setValidatorCompiler(({ schema }) => validatorFor(schema));
  app.setErrorHandler(problemErrorHandler);
  if (group === 'stream') return;
  app.removeAllContentTypeParsers();
  if (secevent) {
    // Security Event Tokens only (RFC 8935 push): the body is the token's text.
    app.addContentTypeParser(seceventType, { parseAs: 'string', bodyLimit }, (_request, body, done) => done(null, (body as string).trim()));
  } else if (group === 'api') {
    // JSON only: text/plain and form bodies (which a browser may send cross-site without a
    // preflight) are refused with 415 rather than parsed.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
      if (body === '') done(null, undefined);
      else parseJson(request, body as string, done);
    });
  } else {
    app.addContentTypeParser(formType, { parseAs: 'string', bodyLimit }, (_request, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    app.addHook('onSend', async (request, reply, payload) => oauthErrorShape(request.headers.accept, reply, payload));
  }
  app.addHook('onRequest', async (request, reply) => {
    // Token responses must never be cached (RFC 6749 §5.1); nothing here is cacheable anyway.
    reply.header('cache-control', 'no-store');
    // Pages on the allowed origins may read the answers (CORS with credentials); no other origin may.
    if (group === 'api' && browser !== undefined) corsHeaders(request, fastifyReply(reply), browser);
  });
}

/**
 * Serves a set of route definitions in a Fastify app, each group in an encapsulated context of
 * its own (so the host app's parsers and error handler are neither used nor changed), and stops
 * the set when the app closes.
 */
export async function registerRouteSet(app: FastifyInstance, set: RouteSet, deps: { authenticate?: AuthenticateHook; browser?: BrowserConfig } = {}): Promise<void> {
  // One context per group, and one more per group for routes taking Security Event Tokens (their own parser).
  const groups = new Map<string, RouteDefinition[]>();
  const keyOf = (def: RouteDefinition) => (def.body === 'secevent' ? `${def.group} secevent` : def.group);
  for (const def of set.routes) groups.set(keyOf(def), [...(groups.get(keyOf(def)) ?? []), def]);
  for (const defs of groups.values()) {
    await app.register(async (context) => {
      configureGroup(context, defs[0]!.group, deps.browser, defs[0]!.body === 'secevent');
      for (const def of defs) serve(context, def, deps.authenticate);
    });
  }
  if (set.close) app.addHook('preClose', async () => set.close?.());
}
