import type { BrowserConfig } from './browser-options.ts';
import type { HttpReply, HttpRequest, RouteDefinition } from './http-types.ts';
import { sendProblem } from './problem.ts';

/** Methods the `/auth` routes answer; a preflight for any other gets no grant. */
const allowedMethods = ['GET', 'POST', 'PATCH', 'DELETE'];
/** Request headers a page may send: the JSON body's type, the two transports' credentials, the transport switch, the DPoP proof. */
const allowedHeaders = ['Content-Type', 'Authorization', 'X-CSRF-Token', 'Tokenstile-Transport', 'DPoP'];
/** Answer headers a page needs to read: when to retry, why a token was refused, the next DPoP nonce. */
const exposedHeaders = ['Retry-After', 'WWW-Authenticate', 'DPoP-Nonce'];
/** How long a browser may reuse a preflight's answer, in seconds (Chromium caps it at 2 h). */
const preflightMaxAgeSeconds = 600;

/** The request's `Origin` when it is one of the allowed origins, else null. */
function allowedOrigin(request: HttpRequest, config: BrowserConfig): string | null {
  const origin = request.headers.origin;
  return typeof origin === 'string' && config.allowedOrigins.has(origin) ? origin : null;
}

/**
 * CORS with credentials, for the configured allowed origins only, on every answer of the API
 * routes: a page on `http://localhost:5173` listed in `allowedOrigins` may call the API with
 * cookies or a Bearer token; any other origin gets no CORS header at all, so the browser keeps
 * the answer from it. The origin is echoed, never `*` (credentials forbid it), and every answer
 * varies on `Origin`. CORS only lets a page read answers: the CSRF checks of the cookie transport
 * still apply.
 */
export function corsHeaders(request: HttpRequest, reply: HttpReply, config: BrowserConfig): void {
  reply.header('vary', 'Origin');
  const origin = allowedOrigin(request, config);
  if (origin === null) return;
  reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true');
  reply.header('access-control-expose-headers', exposedHeaders.join(', '));
}

/**
 * Preflights (`OPTIONS`) under `/auth/`: answered `204` when granted, `403 csrf_failed` (with no
 * CORS header) when not.
 */
export function corsPreflightRoute(config: BrowserConfig): RouteDefinition {
  return {
    method: 'OPTIONS',
    url: '/auth/*',
    group: 'api',
    body: 'none',
    schema: { hide: true },
    handler: async (request, reply) => {
      reply.header('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      if (request.headers.origin === undefined) return sendProblem(reply, 'not_found', { detail: 'OPTIONS answers CORS preflights only.' });
      const origin = allowedOrigin(request, config);
      const method = String(request.headers['access-control-request-method'] ?? '').toUpperCase();
      if (origin === null || !allowedMethods.includes(method)) {
        // No grant (and none of the headers set for a real request): the browser does not send the
        // request it asked about.
        reply.removeHeader('access-control-allow-origin');
        reply.removeHeader('access-control-allow-credentials');
        reply.removeHeader('access-control-expose-headers');
        return sendProblem(reply, 'csrf_failed', { detail: 'This origin may not call Tokenstile from a browser (TOKENSTILE_ALLOWED_ORIGINS).' });
      }
      return reply
        .code(204)
        .header('access-control-allow-methods', allowedMethods.join(', '))
        .header('access-control-allow-headers', allowedHeaders.join(', '))
        .header('access-control-max-age', String(preflightMaxAgeSeconds))
        .send();
    },
  };
}
