import { createHash } from 'node:crypto';
import type * as OpenId from 'openid-client';
import { isLoopback, type ProviderConfig } from './provider-options.ts';

/** Who the provider says signed in, in Tokenstile's words. */
export interface UpstreamProfile {
  /** The provider's stable id of the user (`sub`; GitHub's numeric user id). */
  readonly subject: string;
  readonly email: string | null;
  /** True only when the provider says so (`email_verified: true`, or GitHub's `verified` primary email). */
  readonly emailVerified: boolean;
  readonly name: string | null;
  /** The provider's session id (`sid` of the ID token), for back-channel logout; null when it sends none. */
  readonly sid: string | null;
  /** `amr` values the provider reported (raw; the caller keeps those it knows). */
  readonly amr: readonly string[];
}

/** What a sign-in needs to remember between the redirect and the callback. */
export interface FlowSecrets {
  readonly state: string;
  readonly nonce: string | null;
  readonly codeVerifier: string;
}

/**
 * The `state`, `nonce` and PKCE verifier of a sign-in, derived from its flow token (a one-time
 * token of 256 random bits that only the browser's cookie holds): SHA-256 of the token under a
 * label each, base64url (43 characters, a valid RFC 7636 verifier). So they are never stored:
 * the database keeps only the flow token's own SHA-256, from which none of them can be computed.
 * `nonce` is null for plain OAuth 2.0 (GitHub).
 */
export function flowSecrets(flowToken: string, kind: ProviderConfig['kind']): FlowSecrets {
  const derive = (label: string) => createHash('sha256').update(`tokenstile social ${label}\0${flowToken}`).digest('base64url');
  return { state: derive('state'), nonce: kind === 'oidc' ? derive('nonce') : null, codeVerifier: derive('pkce') };
}

/** A refusal by the provider or of what it answered (bad ID token, error response…). The message never holds a token. */
export class ProviderError extends Error {}

const timeoutSeconds = 10;

/** `openid-client`, loaded at the first use of a provider: importing Tokenstile loads no other package. */
const openid = (): Promise<typeof OpenId> => import('openid-client');

/**
 * One provider, reached through `openid-client` (PKCE S256, `state` and, for OpenID Connect,
 * `nonce` on every request; the ID token checked in full: signature by the provider's JWKS with
 * an algorithm its metadata lists (RS256 when it lists none), `iss`, `aud` (several audiences
 * only with `azp` us), `azp`, `exp`, `iat`, `nonce`). Discovery runs on first use and is retried
 * on the next use after a failure.
 */
export class ProviderClient {
  readonly config: ProviderConfig;
  #configuration: Promise<OpenId.Configuration> | null = null;

  constructor(config: ProviderConfig) {
    this.config = config;
  }

  /** The openid-client configuration (discovered once). */
  configuration(): Promise<OpenId.Configuration> {
    this.#configuration ??= this.#discover().catch((err: unknown) => {
      this.#configuration = null;
      throw new ProviderError(`discovery of provider ${this.config.id} failed`, { cause: err });
    });
    return this.#configuration;
  }

  async #discover(): Promise<OpenId.Configuration> {
    const oidc = await openid();
    const c = this.config;
    const auth = oidc.ClientSecretBasic(c.clientSecret);
    if (c.kind === 'oidc') {
      // The ID token's signature is checked too (openid-client trusts TLS for it by default):
      // "validated fully", and a forged token is refused even where TLS is not in play.
      const execute = [oidc.enableNonRepudiationChecks, ...(c.issuer.protocol === 'http:' && isLoopback(c.issuer) ? [oidc.allowInsecureRequests] : [])];
      const configuration = await oidc.discovery(c.issuer, c.clientId, undefined, auth, { execute, timeout: timeoutSeconds });
      configuration.timeout = timeoutSeconds;
      return configuration;
    }
    const e = c.endpoints;
    const server = { issuer: new URL('/', e.authorization).href, authorization_endpoint: e.authorization.href, token_endpoint: e.token.href };
    const configuration = new oidc.Configuration(server, c.clientId, undefined, oidc.ClientSecretPost(c.clientSecret));
    configuration.timeout = timeoutSeconds;
    if (e.authorization.protocol === 'http:' && isLoopback(e.authorization)) oidc.allowInsecureRequests(configuration);
    return configuration;
  }

  /**
   * The URL to send the browser to, for a flow with these secrets (`flowSecrets`). `fresh`: the
   * user must sign in at the provider again (OpenID Connect `prompt=login`), not ride on a session
   * there: for a re-authentication.
   */
  async authorizationUrl(redirectUri: string, secrets: FlowSecrets, fresh = false): Promise<URL> {
    const configuration = await this.configuration();
    const oidc = await openid();
    const parameters: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: this.config.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(secrets.codeVerifier),
      code_challenge_method: 'S256',
      state: secrets.state,
    };
    if (secrets.nonce !== null) parameters.nonce = secrets.nonce;
    if (fresh && this.config.kind === 'oidc') parameters.prompt = 'login';
    return oidc.buildAuthorizationUrl(configuration, parameters);
  }

  /**
   * Completes the sign-in from the callback's query: exchanges the code (with the PKCE verifier),
   * checks state, the ID token and its nonce, and reads the user. Throws `ProviderError`.
   */
  async finish(query: URLSearchParams, redirectUri: string, secrets: FlowSecrets): Promise<UpstreamProfile> {
    const configuration = await this.configuration();
    const oidc = await openid();
    const current = new URL(redirectUri);
    current.search = query.toString();
    try {
      const checks = { pkceCodeVerifier: secrets.codeVerifier, expectedState: secrets.state };
      if (this.config.kind === 'github') {
        const tokens = await oidc.authorizationCodeGrant(configuration, current, { ...checks, idTokenExpected: false }, { redirect_uri: redirectUri });
        return await this.#gitHubProfile(oidc, configuration, tokens.access_token);
      }
      const tokens = await oidc.authorizationCodeGrant(configuration, current, { ...checks, expectedNonce: secrets.nonce!, idTokenExpected: true }, { redirect_uri: redirectUri });
      const claims = tokens.claims()!;
      // OpenID Connect Core, section 2: `azp` names the client the ID token was issued to.
      // openid-client looks at it only when `aud` lists several audiences (then it must be us);
      // an `azp` that is another client's is refused whatever `aud` holds.
      if (claims.azp !== undefined && claims.azp !== this.config.clientId) throw new ProviderError(`provider ${this.config.id} issued the ID token to another client (azp)`);
      let info: Record<string, unknown> = claims;
      // Providers that keep email out of the ID token (scopes granted, claims at userinfo).
      if (typeof claims.email !== 'string' && configuration.serverMetadata().userinfo_endpoint !== undefined) {
        info = { ...(await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub)), ...claims };
      }
      const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === 'string') : [];
      return {
        subject: claims.sub,
        email: typeof info.email === 'string' ? info.email : null,
        emailVerified: info.email_verified === true,
        name: typeof info.name === 'string' ? info.name : null,
        sid: typeof claims.sid === 'string' ? claims.sid : null,
        amr,
      };
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      throw new ProviderError(`provider ${this.config.id} refused the sign-in: ${(err as Error).message}`, { cause: err });
    }
  }

  /** GitHub has no ID token: the user is read from `GET /user`, the email from `GET /user/emails`. */
  async #gitHubProfile(oidc: typeof OpenId, configuration: OpenId.Configuration, accessToken: string): Promise<UpstreamProfile> {
    if (this.config.kind !== 'github') throw new ProviderError('not a GitHub provider');
    const api = this.config.endpoints.api;
    const get = async (path: string): Promise<unknown> => {
      const headers = new Headers({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
      const res = await oidc.fetchProtectedResource(configuration, accessToken, new URL(path, api), 'GET', undefined, headers);
      if (!res.ok) throw new ProviderError(`GitHub answered ${res.status} to GET ${path}`);
      return res.json();
    };
    const user = (await get('user')) as { id?: unknown; name?: unknown; email?: unknown };
    if (typeof user.id !== 'number' && typeof user.id !== 'string') throw new ProviderError('GitHub sent a user without an id');
    const emails = await get('user/emails').catch(() => []);
    const primary = Array.isArray(emails) ? (emails as Array<Record<string, unknown>>).find((e) => e.primary === true && typeof e.email === 'string') : undefined;
    const email = primary ? String(primary.email) : typeof user.email === 'string' ? user.email : null;
    return { subject: String(user.id), email, emailVerified: primary?.verified === true, name: typeof user.name === 'string' ? user.name : null, sid: null, amr: [] };
  }
}
