import { TokenstileError } from '../../core/errors.ts';
import { requireClient } from '../client-auth.ts';
import type { HttpReply, HttpRequest, RouteDefinition } from '../http-types.ts';
import { sendProblem } from '../problem.ts';
import type { RouteContext, RouteSet } from './route-context.ts';

/** The media type of `/oauth/*` request bodies (RFC 7009, RFC 7662). */
export const formType = 'application/x-www-form-urlencoded';

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
 * Given the serialized answer about to be sent, returns the one to send (and sets its type).
 */
export function oauthErrorShape(accept: string | string[] | undefined, reply: Pick<HttpReply, 'getHeader'> & { type(t: string): unknown }, payload: unknown): unknown {
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
  const accepted = String(accept ?? '');
  if (/application\/json/i.test(accepted) && !/application\/problem\+json/i.test(accepted)) reply.type('application/json; charset=utf-8');
  return JSON.stringify(body);
}

/**
 * `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662), for authenticated
 * clients, with `application/x-www-form-urlencoded` bodies as those RFCs require (these routes
 * only; the rest of the API stays JSON-only).
 */
export function oauthRoutes({ core, clients }: RouteContext): RouteSet {
  /** Answers 401 invalid_client unless the client authenticates; true when it did. */
  const client = async (request: HttpRequest, reply: HttpReply) => (await requireClient(clients, request, reply)) !== null;
  const routes: RouteDefinition[] = [
    {
      method: 'POST',
      url: '/oauth/revoke',
      group: 'oauth',
      body: 'form',
      schema: { tags: ['oauth'], summary: 'Revoke a refresh or access token (RFC 7009): ends its session', consumes: [formType], body: tokenForm },
      handler: async (request, reply) => {
        if (!(await client(request, reply))) return reply;
        const { token } = request.body as { token: string };
        // Unknown, expired and already revoked tokens get the same 200 (RFC 7009 §2.2); a token
        // that cannot be checked right now gets 503 (§2.2.1), never a 200 that revoked nothing.
        if ((await core.revokeToken(token)) === 'unavailable') return sendProblem(reply, 'service_unavailable', { retryAfterMs: 1000 });
        return reply.code(200).send();
      },
    },
    {
      method: 'POST',
      url: '/oauth/introspect',
      group: 'oauth',
      body: 'form',
      schema: { tags: ['oauth'], summary: 'Introspect an access or refresh token (RFC 7662)', consumes: [formType], body: tokenForm },
      handler: async (request, reply) => {
        if (!(await client(request, reply))) return reply;
        const { token } = request.body as { token: string };
        const answer = await core.introspect(token);
        if (answer === 'unavailable') return sendProblem(reply, 'service_unavailable', { retryAfterMs: 1000 });
        if (!answer.active) return { active: false };
        const { tokenType, active, ...claims } = answer;
        // token_type is an RFC 6749 §7.1 access-token type (`DPoP` when bound, RFC 9449 §6.2); a refresh token has none.
        return { active, ...(tokenType === 'access_token' && { token_type: claims.cnf === undefined ? 'Bearer' : 'DPoP' }), ...claims };
      },
    },
  ];
  return { routes };
}
