// Small providers of our own, for what a real one will not do: an OpenID provider that signs
// forged ID tokens on request (wrong nonce, audience, issuer or key), and a GitHub-shaped OAuth 2.0
// server (authorize, token, /user, /user/emails). Both approve every authorization at once
// (no login page) and check PKCE at their token endpoint, as the real ones do.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

interface Grant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly nonce: string | null;
  readonly login: string;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: URLSearchParams) => Promise<void>): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handler(req, res, new URLSearchParams(Buffer.concat(chunks).toString())).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Authorization endpoint shared by both: approves at once, as `login` (the `login_hint`, or `alice`). */
function authorize(url: URL, res: ServerResponse, grants: Map<string, Grant>): void {
  const q = url.searchParams;
  if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !q.get('state')) return json(res, 400, { error: 'invalid_request' });
  const code = randomBytes(16).toString('hex');
  grants.set(code, { clientId: q.get('client_id')!, redirectUri: q.get('redirect_uri')!, challenge: q.get('code_challenge')!, nonce: q.get('nonce'), login: q.get('login_hint') ?? 'alice' });
  const back = new URL(q.get('redirect_uri')!);
  back.searchParams.set('code', code);
  back.searchParams.set('state', q.get('state')!);
  res.writeHead(302, { location: back.href }).end();
}

/** Takes the grant of a token request when its code, client and PKCE verifier check out. */
function redeem(body: URLSearchParams, grants: Map<string, Grant>, req: IncomingMessage): Grant | null {
  const grant = grants.get(body.get('code') ?? '');
  grants.delete(body.get('code') ?? '');
  if (!grant) return null;
  const verifier = body.get('code_verifier') ?? '';
  if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return null;
  if (body.get('redirect_uri') !== grant.redirectUri) return null;
  const basic = req.headers.authorization?.startsWith('Basic ') ? decodeURIComponent(Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':')[0]!) : null;
  if ((basic ?? body.get('client_id')) !== grant.clientId) return null;
  return grant;
}

/** What a test may change in the next ID token: its claims, and the key that signs it. */
export interface Forgery {
  claims?: (claims: Record<string, unknown>) => Record<string, unknown>;
  /** Sign with a key that is not in the provider's JWKS. */
  rogueKey?: boolean;
}

export interface FakeOidcProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The forgery applied to every ID token from now on (none: honest tokens). */
  forge(forgery: Forgery | null): void;
  /** Email claims per login. */
  readonly accounts: Map<string, { email: string; emailVerified: boolean }>;
  /** Signs a JWT with the provider's key (for logout tokens). */
  sign(payload: Record<string, unknown>, header?: { typ?: string; rogue?: boolean }): Promise<string>;
  close(): Promise<void>;
}

/** An OpenID provider on loopback that can be told to sign wrong ID tokens. */
export async function startFakeOidcProvider(): Promise<FakeOidcProvider> {
  const key = await generateKeyPair('ES256', { extractable: true });
  const rogue = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(4).toString('hex');
  const publicJwk: JWK = { ...(await exportJWK(key.publicKey)), kid, alg: 'ES256', use: 'sig' };
  const grants = new Map<string, Grant>();
  const accounts = new Map<string, { email: string; emailVerified: boolean }>();
  const clientId = 'tokenstile-fake';
  const clientSecret = randomBytes(16).toString('hex');
  let forgery: Forgery | null = null;
  let issuer = '';
  const signWith = (payload: Record<string, unknown>, signer: CryptoKey, typ?: string) => new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, ...(typ && { typ }) }).sign(signer);
  const { server, base } = await listen(async (req, res, body) => {
    const url = new URL(req.url!, issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
      });
    }
    if (url.pathname === '/jwks') return json(res, 200, { keys: [publicJwk] });
    if (url.pathname === '/authorize') return authorize(url, res, grants);
    if (url.pathname === '/token' && req.method === 'POST') {
      const grant = redeem(body, grants, req);
      if (!grant) return json(res, 400, { error: 'invalid_grant' });
      const now = Math.floor(Date.now() / 1000);
      const account = accounts.get(grant.login) ?? { email: `${grant.login}@fake.example`, emailVerified: true };
      let claims: Record<string, unknown> = { iss: issuer, aud: grant.clientId, sub: grant.login, iat: now, exp: now + 300, nonce: grant.nonce, sid: `sid-${grant.login}`, email: account.email, email_verified: account.emailVerified };
      if (forgery?.claims) claims = forgery.claims(claims);
      const idToken = await signWith(claims, forgery?.rogueKey ? rogue.privateKey : key.privateKey);
      return json(res, 200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    json(res, 404, { error: 'not_found' });
  });
  issuer = base;
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    forge: (f) => {
      forgery = f;
    },
    sign: (payload, header = {}) => signWith(payload, header.rogue ? rogue.privateKey : key.privateKey, header.typ),
    close: () => close(server),
  };
}

export interface FakeGitHub {
  /** The `serverUrl` of the `github` preset (GitHub Enterprise Server shape: `/login/oauth/*`, `/api/v3/*`). */
  readonly serverUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Users by login: numeric id, name, and emails as GitHub lists them. */
  readonly users: Map<string, { id: number; name: string | null; emails: Array<{ email: string; primary: boolean; verified: boolean }> }>;
  close(): Promise<void>;
}

/** A GitHub-shaped OAuth 2.0 server: `/login/oauth/authorize`, `/login/oauth/access_token`, `/api/v3/user`, `/api/v3/user/emails`. */
export async function startFakeGitHub(): Promise<FakeGitHub> {
  const grants = new Map<string, Grant>();
  const tokens = new Map<string, string>();
  const users: FakeGitHub['users'] = new Map();
  const clientId = `Iv1.${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(20).toString('hex');
  let base = '';
  const { server, base: listening } = await listen(async (req, res, body) => {
    const url = new URL(req.url!, base);
    if (url.pathname === '/login/oauth/authorize') return authorize(url, res, grants);
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const grant = redeem(body, grants, req);
      // GitHub answers errors with 200 and an error member.
      if (!grant || body.get('client_secret') !== clientSecret) return json(res, 200, { error: 'bad_verification_code' });
      const token = `gho_${randomBytes(16).toString('hex')}`;
      tokens.set(token, grant.login);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const login = tokens.get((req.headers.authorization ?? '').replace(/^(Bearer|token) /i, ''));
    const user = login === undefined ? undefined : users.get(login);
    if (url.pathname.startsWith('/api/v3/') && user === undefined) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/api/v3/user') return json(res, 200, { login, id: user!.id, name: user!.name, email: null });
    if (url.pathname === '/api/v3/user/emails') return json(res, 200, user!.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })));
    json(res, 404, { message: 'Not Found' });
  });
  base = listening;
  return { serverUrl: base, clientId, clientSecret, users, close: () => close(server) };
}
