import { ConfigError } from '../../core/errors.ts';

/**
 * One sign-in provider as the operator configures it (`oauthProviders`, or the JSON array in
 * `TOKENSTILE_OAUTH_PROVIDERS`). Either `issuer` (any OpenID Connect provider, found by discovery
 * at `<issuer>/.well-known/openid-configuration`) or `preset` (`github`: plain OAuth 2.0;
 * `google`: OpenID Connect at `https://accounts.google.com`).
 *
 * @example
 * [{ "id": "github", "preset": "github", "clientId": "Iv1.abc", "clientSecret": "…" },
 *  { "id": "acme", "issuer": "https://login.acme.example", "clientId": "tokenstile", "clientSecret": "…", "name": "Acme SSO" }]
 */
export interface ProviderOptions {
  /** Its id in the paths (`/auth/oauth/<id>`): 1–32 of `a-z 0-9 -`. */
  readonly id: string;
  readonly issuer?: string;
  readonly preset?: 'github' | 'google';
  readonly clientId: string;
  readonly clientSecret: string;
  /** Scopes asked for. Default: `openid email profile` (OpenID Connect), `read:user user:email` (GitHub). */
  readonly scopes?: readonly string[];
  /** What the buttons say ("Sign in with <name>"). Default: the preset's name, or the id. */
  readonly name?: string;
  /** `github` preset only: a GitHub Enterprise Server's URL (`https://github.example.com`) instead of github.com. */
  readonly serverUrl?: string;
}

/** A checked provider. */
export type ProviderConfig =
  | { readonly kind: 'oidc'; readonly id: string; readonly name: string; readonly issuer: URL; readonly clientId: string; readonly clientSecret: string; readonly scopes: readonly string[] }
  | { readonly kind: 'github'; readonly id: string; readonly name: string; readonly endpoints: GitHubEndpoints; readonly clientId: string; readonly clientSecret: string; readonly scopes: readonly string[] };

/** Where a GitHub (or GitHub Enterprise Server) answers. */
export interface GitHubEndpoints {
  readonly authorization: URL;
  readonly token: URL;
  /** The REST API root (`/user`, `/user/emails` below it). */
  readonly api: URL;
}

const idPattern = /^[a-z0-9-]{1,32}$/;
/** Path segments of `/auth/oauth/*` routes that are not providers. */
const reservedIds = new Set(['providers', 'session', 'token']);
const known = new Set(['id', 'issuer', 'preset', 'clientId', 'clientSecret', 'scopes', 'name', 'serverUrl']);

/** True for loopback hosts, the only ones reached over plain HTTP (a provider on the same machine in development and tests). */
export function isLoopback(url: URL): boolean {
  return url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
}

function httpsUrl(text: unknown, what: string): URL {
  if (typeof text !== 'string' || !URL.canParse(text)) throw new ConfigError(`${what} must be an absolute URL`);
  const url = new URL(text);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) throw new ConfigError(`${what} must be https:// (http:// only on loopback)`);
  if (url.search || url.hash || url.username) throw new ConfigError(`${what} must have no query, fragment or credentials`);
  return url;
}

function gitHubEndpoints(serverUrl: unknown, what: string): GitHubEndpoints {
  if (serverUrl === undefined) {
    return { authorization: new URL('https://github.com/login/oauth/authorize'), token: new URL('https://github.com/login/oauth/access_token'), api: new URL('https://api.github.com/') };
  }
  const base = httpsUrl(serverUrl, `${what}.serverUrl`).href.replace(/\/?$/, '/');
  return { authorization: new URL('login/oauth/authorize', base), token: new URL('login/oauth/access_token', base), api: new URL('api/v3/', base) };
}

function text(value: unknown, what: string, max = 2048): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new ConfigError(`${what} must be a non-empty string`);
  return value;
}

function oneProvider(entry: unknown, index: number): ProviderConfig {
  const at = `oauthProviders[${index}]`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(`${at} must be an object`);
  const o = entry as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!known.has(key)) throw new ConfigError(`${at} has an unknown field ${JSON.stringify(key)}`);
  if (typeof o.id !== 'string' || !idPattern.test(o.id)) throw new ConfigError(`${at}.id must be 1-32 of a-z, 0-9 and -`);
  if (reservedIds.has(o.id)) throw new ConfigError(`${at}.id ${JSON.stringify(o.id)} is taken by a route (/auth/oauth/${o.id})`);
  const common = { id: o.id, clientId: text(o.clientId, `${at}.clientId`), clientSecret: text(o.clientSecret, `${at}.clientSecret`) };
  if (o.scopes !== undefined && (!Array.isArray(o.scopes) || o.scopes.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)))) {
    throw new ConfigError(`${at}.scopes must be a list of scope names`);
  }
  const scopes = o.scopes as string[] | undefined;
  if (o.name !== undefined) text(o.name, `${at}.name`, 64);
  if ((o.issuer === undefined) === (o.preset === undefined)) throw new ConfigError(`${at} needs exactly one of issuer and preset`);
  if (o.serverUrl !== undefined && o.preset !== 'github') throw new ConfigError(`${at}.serverUrl is for the github preset only`);
  if (o.preset === 'github') {
    return { kind: 'github', ...common, name: (o.name as string) ?? 'GitHub', endpoints: gitHubEndpoints(o.serverUrl, at), scopes: scopes ?? ['read:user', 'user:email'] };
  }
  if (o.preset !== undefined && o.preset !== 'google') throw new ConfigError(`${at}.preset must be github or google`);
  const issuer = o.preset === 'google' ? new URL('https://accounts.google.com') : httpsUrl(o.issuer, `${at}.issuer`);
  const defaultName = o.preset === 'google' ? 'Google' : o.id;
  const withOpenid = scopes === undefined ? ['openid', 'email', 'profile'] : scopes.includes('openid') ? scopes : ['openid', ...scopes];
  return { kind: 'oidc', ...common, name: (o.name as string) ?? defaultName, issuer, scopes: withOpenid };
}

/**
 * Checks the providers once, at startup: a JSON text (the environment variable) or a list.
 * Throws `ConfigError` naming the entry and field at fault; a secret is never repeated.
 */
export function parseProviders(value: string | readonly ProviderOptions[] | undefined): readonly ProviderConfig[] {
  if (value === undefined) return [];
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch {
      throw new ConfigError('oauthProviders must be a JSON array of providers');
    }
  }
  if (!Array.isArray(list)) throw new ConfigError('oauthProviders must be a list of providers');
  const providers = list.map(oneProvider);
  const ids = new Set<string>();
  for (const p of providers) {
    if (ids.has(p.id)) throw new ConfigError(`oauthProviders: the id ${JSON.stringify(p.id)} is used twice`);
    ids.add(p.id);
  }
  return Object.freeze(providers);
}
