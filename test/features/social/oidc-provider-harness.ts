/// <reference path="./oidc-provider.d.ts" />
// A real OpenID Provider (panva's certified `oidc-provider`) on a loopback port, with one client
// for Tokenstile, its development login and consent pages, RP-initiated logout and back-channel
// logout. The signing key is the test's own, so that tests can also sign tokens "as the provider".
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

/** An account of the provider: what its ID tokens say about the person. */
export interface UpstreamAccount {
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name?: string;
}

export interface OidcProviderHarness {
  /** The issuer, `http://127.0.0.1:<port>`. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The provider's private signing key (RS256), to forge or mint tokens in tests. */
  readonly privateJwk: JWK & { kid: string };
  /** Accounts by login name (the dev login form takes any name; unknown ones get a made-up email). */
  readonly accounts: Map<string, UpstreamAccount>;
  /** Back-channel logout deliveries that failed (the provider's `backchannel.error` events). */
  readonly backchannelErrors: Error[];
  readonly provider: Provider;
  close(): Promise<void>;
}

/**
 * Starts the provider on `port` (0: any) for a Tokenstile at `tokenstileBase` whose provider id is
 * `providerId`: redirect URI `<base>/auth/oauth/<id>/callback`, back-channel logout URI
 * `<backchannelBase or base>/auth/oauth/<id>/backchannel-logout` (session required: logout tokens carry `sid`).
 */
export async function startOidcProvider(options: { tokenstileBase: string; providerId: string; port?: number; extraRedirectUris?: string[]; backchannelBase?: string; clientSecret?: string }): Promise<OidcProviderHarness> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid: `k-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
  const clientId = 'tokenstile';
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  const accounts = new Map<string, UpstreamAccount>();
  const base = `${options.tokenstileBase}/auth/oauth/${options.providerId}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [`${base}/callback`, ...(options.extraRedirectUris ?? [])],
        post_logout_redirect_uris: [`${options.tokenstileBase}/account`],
        backchannel_logout_uri: `${options.backchannelBase ?? options.tokenstileBase}/auth/oauth/${options.providerId}/backchannel-logout`,
        backchannel_logout_session_required: true,
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [privateJwk as never] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The ID token carries the scope's claims (not only the userinfo endpoint).
    conformIdTokenClaims: false,
    // Its outgoing requests (back-channel logout) go to Tokenstile on loopback, which its SSRF
    // protection (a dispatcher that refuses special-use addresses) would stop; and its 2.5 s
    // timeout is too short for a busy test machine.
    fetch: (url: string | URL, init: RequestInit & { dispatcher?: unknown }) => globalThis.fetch(url, { ...init, dispatcher: undefined, signal: AbortSignal.timeout(15_000) } as RequestInit),
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => {
        const a = accounts.get(id) ?? { email: `${id}@upstream.example`, emailVerified: false };
        return { sub: id, email: a.email, email_verified: a.emailVerified, ...(a.name !== undefined && { name: a.name }) };
      },
    }),
  });
  // Plain HTTP on loopback: the provider is told the connection is what the URL says.
  provider.proxy = false;
  const backchannelErrors: Error[] = [];
  if (process.env.OP_DEBUG) provider.on('server_error', (_ctx: unknown, err: Error) => console.error('op server_error', err));
  provider.on('backchannel.error', (_ctx: unknown, err: Error) => backchannelErrors.push(err));
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    privateJwk,
    accounts,
    backchannelErrors,
    provider,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
