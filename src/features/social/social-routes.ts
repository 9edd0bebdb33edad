import type { IssuedTokens } from '../../core/context.ts';
import { authOf, isCookieAuthenticated } from '../../http/authenticate.ts';
import { browserSession, setSessionCookies, wantsCookies } from '../../http/cookie-transport.ts';
import { originAllowed } from '../../http/csrf.ts';
import type { HttpReply, HttpRequest, RouteDefinition } from '../../http/http-types.ts';
import { failureDetails, sendProblem, sendRefusal } from '../../http/problem.ts';
import { device } from '../../http/request-device.ts';
import { checkSignInProof } from '../../http/dpop.ts';
import { internals } from '../../core/core-internals.ts';
import * as http from '../../http/schemas.ts';
import { errorResponses as errors, type RouteContext, type RouteSet } from '../../http/routes/route-context.ts';
import { checkReturnTo, withOutcome } from './return-path.ts';
import * as s from './social-schemas.ts';
import { socialOf } from './social-feature.ts';
import { flowTtlMs, type FlowMode } from './social-flow.ts';
import { identityRoutes } from './identity-routes.ts';

const tags = ['social'];
const security = [{ bearerAuth: [] }];
/** The browser's handle on its sign-in under way: a single-use server record's token (HttpOnly, Lax: it must come back with the provider's redirect). */
export const flowCookieName = '__Host-tokenstile-oauth';
const api = { group: 'api', body: 'json' } as const;

/**
 * What the page needs of a gate's refusal to go on: for `mfa_required`, the pending sign-in's
 * `mfaToken` and `methods` (space-separated), as `POST /auth/login` answers them.
 */
function gateOutcome(details: Readonly<Record<string, unknown>>): Record<string, string> {
  const { mfaToken, methods } = details as { mfaToken?: unknown; methods?: unknown };
  if (typeof mfaToken !== 'string' || !Array.isArray(methods)) return {};
  return { tokenstile_mfa_token: mfaToken, tokenstile_mfa_methods: methods.join(' ') };
}

/** The query parameters of a request, from its URL. */
function queryOf(request: HttpRequest): URLSearchParams {
  const url = request.url ?? '';
  const at = url.indexOf('?');
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
}

/**
 * The routes of social sign-in (docs/social.md): the public provider list, the browser flow
 * (start, callback), the header clients' code exchange, linking, the cookie session hand-over,
 * and the identities and back-channel logout routes of `identity-routes.ts`.
 */
export function socialRoutes(context: RouteContext): RouteSet {
  const { core, browser, prefix } = context;
  const social = socialOf(core);
  // A core opened without the feature (an embedder's own list) serves none of its routes.
  if (social === null) return { routes: [] };
  const base = core.config.issuer.replace(/\/+$/, '');
  const ownOrigin = new URL(core.config.issuer).origin;
  const dpopMode = internals(core).dpop.mode;
  const redirectUri = (provider: string) => `${base}${prefix}/auth/oauth/${encodeURIComponent(provider)}/callback`;
  const defaultReturn = `${ownOrigin}/account`;
  const setFlowCookie = (reply: HttpReply, token: string) =>
    reply.setCookie(flowCookieName, token, { path: '/', httpOnly: true, secure: true, sameSite: 'lax', maxAge: Math.floor(flowTtlMs / 1000) });
  const clearFlowCookie = (reply: HttpReply) => reply.clearCookie(flowCookieName, { path: '/', httpOnly: true, secure: true, sameSite: 'lax' });
  const redirect = (reply: HttpReply, location: string) => reply.code(302).header('location', location).send();
  const returnTo = (value: string | null) => (value === null ? defaultReturn : checkReturnTo(value, ownOrigin, browser.allowedOrigins));

  /** A flow started by a signed-in session: connecting a provider, or re-authenticating through one. */
  const sessionFlow = (intent: 'link' | 'reauthenticate', summary: string, then: string): RouteDefinition => ({
    ...api,
    method: 'POST',
    url: `/auth/oauth/:provider/${intent}`,
    authenticate: true,
    schema: {
      tags,
      security,
      summary,
      description: `Sets the flow cookie and answers the provider URL to navigate to. ${then}`,
      params: s.providerParams,
      body: s.linkBody,
      response: { 200: s.linkResponse, ...errors(400, 401, 403, 404, 429, 502) },
    },
    preValidation: (request) => {
      if (request.body === undefined) request.body = {};
    },
    handler: async (request, reply) => {
      const { provider } = request.params as { provider: string };
      const target = returnTo((request.body as { returnTo?: string }).returnTo ?? null);
      if (target === null) return sendProblem(reply, 'invalid_request', { field: 'returnTo', detail: 'returnTo must be a path here or a URL on an allowed origin.' });
      const auth = authOf(request);
      const link = { userId: auth.userId, sessionId: auth.sessionId };
      const r = await social.start({ providerId: provider, redirectUri: redirectUri(provider), returnTo: target, mode: 'cookie', link, reauthenticate: intent === 'reauthenticate', device: device(request) });
      if (!r.ok) return sendProblem(reply, r.code, failureDetails(r));
      setFlowCookie(reply, r.value.flowToken);
      return { url: r.value.url };
    },
  });

  const routes: RouteDefinition[] = [
    {
      ...api,
      method: 'GET',
      url: '/auth/oauth/providers',
      schema: { tags, summary: 'The configured sign-in providers (public: for "Sign in with …" buttons)', response: { 200: s.providersResponse } },
      handler: async () => ({ providers: social.providers().map((p) => ({ ...p, startUrl: `${prefix}/auth/oauth/${p.id}` })) }),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/oauth/token',
      schema: {
        tags,
        summary: 'Exchange a single-use sign-in code (header clients) for tokens',
        description: 'The code comes in the return URL\'s fragment (`#tokenstile_code=…`) after a flow started with `mode=code`; `codeVerifier` is the PKCE verifier whose S256 was that flow\'s `codeChallenge`. Any attempt spends the code. With `Tokenstile-Transport: cookie`, the tokens are set as cookies instead.',
        headers: http.transportHeaders,
        body: s.exchangeBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403) },
      },
      preHandler: (request, reply) => checkSignInProof(core, request, reply),
      handler: async (request, reply) => {
        const cookies = wantsCookies(request);
        if (cookies && !originAllowed(request, browser)) return sendProblem(reply, 'csrf_failed', { detail: 'This origin may not sign in with the cookie transport.' });
        const { code, codeVerifier } = request.body as { code: string; codeVerifier: string };
        const r = await social.exchange(code, codeVerifier, device(request));
        if (!r.ok) return 'details' in r ? sendRefusal(reply, r) : sendProblem(reply, r.code, failureDetails(r));
        return issued(reply, r.value, cookies);
      },
    },
    {
      ...api,
      method: 'GET',
      url: '/auth/oauth/session',
      authenticate: true,
      schema: {
        tags,
        security,
        summary: 'The browser session after a redirect sign-in: its CSRF token and user',
        description: 'For a page that was signed in by the provider callback (cookies set, no body to read): answers what a cookie-transport login answers. Cookie-authenticated requests only.',
        response: { 200: s.browserSessionResponse, ...errors(400, 401) },
      },
      handler: async (request, reply) => {
        if (!isCookieAuthenticated(request)) return sendProblem(reply, 'invalid_request', { detail: 'Only a browser signed in with cookies has a CSRF token to fetch.' });
        const auth = authOf(request);
        const user = await core.profile(auth);
        if (!user.ok) return sendProblem(reply, user.code);
        const expiresIn = Math.max(0, auth.claims.exp - Math.floor(Date.now() / 1000));
        return browserSession(core, { tokenType: auth.claims.cnf === undefined ? 'Bearer' : 'DPoP', accessToken: '', refreshToken: '', refreshExpiresIn: 0, expiresIn, session: { id: auth.sessionId }, user: user.value });
      },
    },
    sessionFlow('link', 'Start connecting a provider to the signed-in account', 'The callback links the identity to this account (this session must still be live then) and redirects to `returnTo#tokenstile_linked=<provider>`.'),
    sessionFlow(
      'reauthenticate',
      'Prove again who you are through a provider linked to the account (step-up, e.g. an account without a password)',
      'The provider is asked to sign the user in anew (`prompt=login`, OpenID Connect). The callback sets this session\'s `auth_time` to now, as `POST /auth/reauthenticate` does, and redirects to `returnTo#tokenstile_reauthenticated=<provider>`; `#tokenstile_error=reauthentication_required` when the provider account is not linked to this user.',
    ),
    {
      ...api,
      method: 'GET',
      url: '/auth/oauth/:provider',
      schema: {
        tags,
        summary: 'Start signing in with a provider (redirects to it)',
        description:
          'Query: `returnTo` (a path here, or a URL on an allowed origin; default `/account`), `mode` (`cookie`, default: the callback sets the session cookies; `code`: it hands a single-use code to `returnTo#tokenstile_code=…` for `POST /auth/oauth/token`), `codeChallenge` (required with `mode=code`: the base64url SHA-256 of the verifier sent with the exchange), `dpop_jkt` (RFC 9449 §10: the JWK SHA-256 thumbprint of the DPoP key of the client; the session is bound to it, and with `mode=code` the exchange must carry a proof by it; required in cookie mode when DPoP is `required`). Starts are limited per client IP (429).',
        params: s.providerParams,
        response: { 302: s.redirectResponse, ...errors(400, 404, 429, 502) },
      },
      handler: async (request, reply) => {
        const { provider } = request.params as { provider: string };
        const query = queryOf(request);
        const target = returnTo(query.get('returnTo'));
        if (target === null) return sendProblem(reply, 'invalid_request', { field: 'returnTo', detail: 'returnTo must be a path here or a URL on an allowed origin.' });
        const mode = (query.get('mode') ?? 'cookie') as FlowMode;
        if (mode !== 'cookie' && mode !== 'code') return sendProblem(reply, 'invalid_request', { field: 'mode', detail: 'mode must be cookie or code.' });
        const codeChallenge = query.get('codeChallenge');
        if (codeChallenge !== null && (mode !== 'code' || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge))) {
          return sendProblem(reply, 'invalid_request', { field: 'codeChallenge', detail: 'codeChallenge must be a base64url SHA-256 (43 characters), with mode=code.' });
        }
        const dpopJkt = dpopMode === 'off' ? null : query.get('dpop_jkt');
        if (dpopJkt !== null && !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)) {
          return sendProblem(reply, 'invalid_request', { field: 'dpop_jkt', detail: 'dpop_jkt must be the base64url SHA-256 JWK thumbprint (RFC 7638) of your DPoP key (43 characters).' });
        }
        // Cookie mode has no later request that could carry a proof: the key must be named here.
        if (dpopMode === 'required' && mode === 'cookie' && dpopJkt === null) {
          return sendProblem(reply, 'invalid_dpop_proof', { detail: 'This server requires DPoP: name your key with dpop_jkt (RFC 9449 §10).' });
        }
        const r = await social.start({ providerId: provider, redirectUri: redirectUri(provider), returnTo: target, mode, codeChallenge, dpopJkt, device: device(request) });
        if (!r.ok) return sendProblem(reply, r.code, failureDetails(r));
        setFlowCookie(reply, r.value.flowToken);
        return redirect(reply, r.value.url);
      },
    },
    {
      ...api,
      method: 'GET',
      url: '/auth/oauth/:provider/callback',
      schema: {
        tags,
        summary: 'Where the provider sends the browser back (redirects to the app)',
        description: 'Redirects to the flow\'s `returnTo` with the outcome in the fragment: `tokenstile_signed_in`, `tokenstile_linked`, `tokenstile_code` or `tokenstile_error` (a code of this API; with `mfa_required`, also `tokenstile_mfa_token` and `tokenstile_mfa_methods` (space-separated) for `POST /auth/mfa/verify`). A flow this browser did not start, or one already used, is answered 400 `oauth_flow_invalid`.',
        params: s.providerParams,
        response: { 302: s.redirectResponse, ...errors(400) },
      },
      handler: async (request, reply) => {
        const { provider } = request.params as { provider: string };
        const flowToken = request.cookies[flowCookieName] ?? null;
        clearFlowCookie(reply);
        const outcome = await social.finish(provider, flowToken, queryOf(request), device(request));
        if (outcome === null) return sendProblem(reply, 'oauth_flow_invalid');
        switch (outcome.kind) {
          case 'refused':
            return redirect(reply, withOutcome(outcome.returnTo!, { tokenstile_error: outcome.code, provider }));
          case 'linked':
            return redirect(reply, withOutcome(outcome.returnTo, { tokenstile_linked: provider }));
          case 'reauthenticated':
            return redirect(reply, withOutcome(outcome.returnTo, { tokenstile_reauthenticated: provider }));
          case 'code':
            return redirect(reply, withOutcome(outcome.returnTo, { tokenstile_code: outcome.code }));
          case 'gated':
            return redirect(reply, withOutcome(outcome.returnTo, { tokenstile_error: outcome.code, provider, ...gateOutcome(outcome.details) }));
          case 'signed_in':
            setSessionCookies(reply, outcome.tokens, browser);
            return redirect(reply, withOutcome(outcome.returnTo, { tokenstile_signed_in: provider }));
        }
      },
    },
    ...identityRoutes(social).routes,
  ];

  /** Answers freshly issued tokens in the transport the request uses. */
  function issued(reply: HttpReply, tokens: IssuedTokens, cookies: boolean) {
    if (!cookies) return tokens;
    setSessionCookies(reply, tokens, browser);
    return browserSession(core, tokens);
  }
  return { routes };
}
