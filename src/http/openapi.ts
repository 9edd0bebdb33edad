import type { RouteDefinition } from './http-types.ts';

/** The document's frame, shared by every adapter (the Fastify adapter hands it to @fastify/swagger). */
export const openApiInfo = {
  openapi: '3.1.0',
  info: { title: 'Tokenstile', version: '1', description: 'JWT login with real logout.' },
  components: {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      // Every route that takes bearerAuth takes this too: a DPoP-bound token (tokenType DPoP).
      dpopAuth: {
        type: 'http',
        scheme: 'DPoP',
        description: 'RFC 9449: `Authorization: DPoP <access token>` and a `DPoP` proof header (htm, htu, iat, jti, ath; nonce when the server sends DPoP-Nonce), for tokens bound at sign-in. Accepted wherever bearerAuth is. Refusals: 401 `invalid_dpop_proof`, `use_dpop_nonce` or `invalid_token` with `WWW-Authenticate: DPoP`. See docs/dpop.md.',
      },
      clientBasic: { type: 'http', scheme: 'basic', description: 'A client of TOKENSTILE_CLIENTS: client id and secret.' },
    },
  },
} as const;

/** `/auth/sessions/:id` as OpenAPI writes it: `/auth/sessions/{id}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * The OpenAPI 3.1 document of a route table, as @fastify/swagger makes it for the Fastify adapter:
 * each route's summary, tags, security, path parameters, request body (JSON or form) and
 * responses (JSON, problem+json for errors). Hidden routes and preflights are left out.
 */
export function openApiDocument(routes: readonly RouteDefinition[], prefix: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.schema.hide || route.method === 'OPTIONS') continue;
    const s = route.schema;
    const operation: Record<string, unknown> = {};
    if (s.tags) operation.tags = s.tags;
    if (s.summary) operation.summary = s.summary;
    if (s.description) operation.description = s.description;
    if (s.security) operation.security = s.security;
    const params = (s.params as { properties?: Record<string, object>; required?: string[] } | undefined)?.properties;
    if (params) operation.parameters = Object.entries(params).map(([name, schema]) => ({ name, in: 'path', required: true, schema }));
    if (s.body) operation.requestBody = { required: true, content: { [s.consumes?.[0] ?? 'application/json']: { schema: s.body } } };
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(s.response ?? {})) {
      const { description, ...body } = schema as { description?: string };
      responses[status] = (body as { type?: string }).type === 'null' ? { description: description ?? 'No content' } : { description: description ?? 'Default Response', content: { 'application/json': { schema: body } } };
    }
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'Default Response' };
    operation.responses = responses;
    (paths[openApiPath(`${prefix}${route.url}`)] ??= {})[route.method.toLowerCase()] = operation;
  }
  return { ...openApiInfo, paths };
}
