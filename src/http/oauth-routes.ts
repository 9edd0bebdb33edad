import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv } from 'ajv';
import type { ClientRegistry } from '../core/clients.ts';
import { TokenstileError } from '../core/errors.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { requireClient } from './client-auth.ts';
import { problemErrorHandler, sendProblem } from './problem.ts';

const formType = 'application/x-www-form-urlencoded';
/** Same cap as the JSON routes: 16 KiB, refused with 413 before parsing. */
const bodyLimit = 16 * 1024;

/**
 * Parses a form body strictly: a parameter given twice is refused (RFC 6749 §3.2). Unknown
 * parameters are kept here and ignored by the routes, as RFC 6749 §3.1 requires of servers.
 */
export function parseForm(body: string): Record<string, string> {
  const form: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in form) throw new TokenstileError('invalid_request', `The parameter ${JSON.stringify(name.slice(0, 64))} is given more than once.`);
    form[name] = value;
  }
  return form;
}

const tokenForm = {
  type: 'object',
  required: ['token'],
  properties: {
    token: { type: 'string', minLength: 1, maxLength: 8192 },
    token_type_hint: { type: 'string', maxLength: 64 },
    client_id: { type: 'string', maxLength: 256 },
    client_secret: { type: 'string', maxLength: 1024 },
  },
} as const;

/** The RFC 6749 §5.2 / RFC 7009 / RFC 7662 `error` value for each problem code on these routes. */
const oauthErrors: Partial<Record<string, string>> = {
  invalid_client: 'invalid_client',
  service_unavailable: 'temporarily_unavailable',
  internal_error: 'server_error',
};

/**
 * Errors on `/oauth/*` are problem+json documents (the contract) that also carry the OAuth
 * `error` and `error_description` members (RFC 6749 §5.2). Their media type is
 * `application/problem+json`, unless the client asked for `application/json` (and not
 * problem+json), as OAuth client libraries do: then it is served as `application/json`.
 */
export async function oauthErrorShape(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').startsWith('application/problem+json')) return payload;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return payload;
  }
  const code = String(body.code);
  body.error ??= oauthErrors[code] ?? 'invalid_request';
  body.error_description ??= body.detail;
  const accept = request.headers.accept ?? '';
  if (/application\/json/i.test(accept) && !/application\/problem\+json/i.test(accept)) reply.type('application/json; charset=utf-8');
  return JSON.stringify(body);
}

const ajv = new Ajv({ removeAdditional: false, coerceTypes: false, allErrors: false, strict: false });

/**
 * `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662), for authenticated
 * clients, with `application/x-www-form-urlencoded` bodies as those RFCs require (this context
 * only; the rest of the API stays JSON-only).
 */
export async function oauthRoutes(app: FastifyInstance, opts: { core: Tokenstile; clients: ClientRegistry }): Promise<void> {
  const { core, clients } = opts;
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setErrorHandler(problemErrorHandler);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(formType, { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  app.addHook('onSend', oauthErrorShape);
  const preHandler = async (request: Parameters<typeof requireClient>[1], reply: Parameters<typeof requireClient>[2]) => {
    await requireClient(clients, request, reply);
  };

  app.post(
    '/oauth/revoke',
    {
      preHandler,
      schema: {
        tags: ['oauth'],
        summary: 'Revoke a refresh or access token (RFC 7009): ends its session',
        consumes: [formType],
        body: tokenForm,
      },
    },
    async (request, reply) => {
      const { token } = request.body as { token: string };
      // Unknown, expired and already revoked tokens get the same 200 (RFC 7009 §2.2); a token
      // that cannot be checked right now gets 503 (§2.2.1), never a 200 that revoked nothing.
      if ((await core.revokeToken(token)) === 'unavailable') return sendProblem(reply, 'service_unavailable', { retryAfterMs: 1000 });
      return reply.code(200).send();
    },
  );

  app.post(
    '/oauth/introspect',
    {
      preHandler,
      schema: {
        tags: ['oauth'],
        summary: 'Introspect an access or refresh token (RFC 7662)',
        consumes: [formType],
        body: tokenForm,
      },
    },
    async (request, reply) => {
      const { token } = request.body as { token: string };
      const answer = await core.introspect(token);
      if (answer === 'unavailable') return sendProblem(reply, 'service_unavailable', { retryAfterMs: 1000 });
      if (!answer.active) return { active: false };
      const { tokenType, active, ...claims } = answer;
      // token_type is an RFC 6749 §7.1 access-token type; a refresh token has none.
      return { active, ...(tokenType === 'access_token' && { token_type: 'Bearer' }), ...claims };
    },
  );
}
