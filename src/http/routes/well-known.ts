import { jwksMaxAgeSeconds } from '../../core/key-rotation.ts';
import type { RouteContext, RouteSet } from './route-context.ts';

/** Client authentication methods of `/oauth/*` (RFC 6749 §2.3.1). */
export const clientAuthMethods = ['client_secret_basic', 'client_secret_post'] as const;

/**
 * RFC 8414 authorization server metadata: only what this server really provides. There is no
 * OAuth authorization or token endpoint (sign-in is `/auth/login`), so no grant or response type
 * is listed; `response_types_supported`, required by RFC 8414, is therefore empty.
 */
export function authorizationServerMetadata(issuer: string, signingAlgorithm: string): Record<string, unknown> {
  const base = issuer.replace(/\/+$/, '');
  return {
    issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    response_types_supported: [],
    revocation_endpoint: `${base}/oauth/revoke`,
    revocation_endpoint_auth_methods_supported: [...clientAuthMethods],
    introspection_endpoint: `${base}/oauth/introspect`,
    introspection_endpoint_auth_methods_supported: [...clientAuthMethods],
    // RFC 9068 access tokens: the algorithm every access token is signed with.
    access_token_signing_alg_values_supported: [signingAlgorithm],
    // Not registered with IANA: where verifiers subscribe to revocations (tokenstile/verify).
    tokenstile_revocation_stream_endpoint: `${base}/revocations/stream`,
  };
}

/** `GET /.well-known/jwks.json` and `GET /.well-known/oauth-authorization-server`. */
export function wellKnownRoutes({ core }: RouteContext): RouteSet {
  const metadata = authorizationServerMetadata(core.config.issuer, core.config.signingAlgorithm);
  return {
    routes: [
      {
        method: 'GET',
        url: '/.well-known/jwks.json',
        group: 'plain',
        body: 'none',
        schema: { tags: ['keys'], summary: 'Public signing keys (RFC 7517)' },
        handler: async (_request, reply) => {
          // Short caching: a rotated-in key is published well before it signs (see keys rotate).
          reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
          return core.jwks();
        },
      },
      {
        method: 'GET',
        url: '/.well-known/oauth-authorization-server',
        group: 'plain',
        body: 'none',
        schema: { tags: ['keys'], summary: 'Authorization server metadata (RFC 8414)' },
        handler: async (_request, reply) => {
          reply.header('cache-control', 'public, max-age=3600');
          return metadata;
        },
      },
    ],
  };
}
