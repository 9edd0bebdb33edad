import { internals } from '../../core/core-internals.ts';
import { featureApi } from '../../core/feature.ts';
import { authOf } from '../../http/authenticate.ts';
import type { RouteDefinition } from '../../http/http-types.ts';
import { failureDetails, sendProblem, sendRefusal } from '../../http/problem.ts';
import { device } from '../../http/request-device.ts';
import { signInAnswers } from '../../http/routes/auth.ts';
import { errorResponses as errors, type RouteContext, type RouteSet } from '../../http/routes/route-context.ts';
import * as s from '../../http/schemas.ts';
import { mfaFeature } from '../mfa/mfa-feature.ts';
import * as ms from '../mfa/mfa-schemas.ts';
import { relyingParty } from './webauthn.ts';

const tags = ['passkeys'];
const security = [{ bearerAuth: [] }];
const api = { group: 'api', body: 'json' } as const;

/** No body (or `{}`) on a request for options. */
function emptyBodyOk(request: { body: unknown }): void {
  if (request.body === undefined) request.body = {};
}

/** `/auth/passkeys/*`: register, list, remove, and sign in without a password. */
export function passkeyRoutes(context: RouteContext): RouteSet {
  const { core, browser } = context;
  // A core opened without the feature (an embedder's choice) serves none of its routes.
  if (!internals(core).features.has(mfaFeature.name)) return { routes: [] };
  const { passkeys } = featureApi(core, mfaFeature);
  const rp = relyingParty(core.config.issuer, browser.allowedOrigins);
  const signIn = signInAnswers(context);

  const routes: RouteDefinition[] = [
    {
      ...api,
      method: 'POST',
      url: '/auth/passkeys/register/options',
      schema: { tags, security, summary: 'WebAuthn options for creating a passkey', description: 'Needs a sign-in within 5 minutes.', body: ms.emptyBody, response: { 200: ms.webauthnOptionsResponse, ...errors(400, 401, 403) } },
      authenticate: true,
      preValidation: emptyBodyOk,
      handler: async (request, reply) => {
        const r = await passkeys.registerOptions(authOf(request), rp);
        return r.ok ? r.value : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/passkeys/register',
      schema: {
        tags,
        security,
        summary: 'Store the passkey the browser created',
        description: 'Every other session of the user ends.',
        body: ms.registerPasskeyBody,
        response: { 201: ms.passkeyResponse, ...errors(400, 401, 403) },
      },
      authenticate: true,
      handler: async (request, reply) => {
        const r = await passkeys.register(authOf(request), request.body as { credential: unknown; name?: string }, rp, device(request));
        return r.ok ? reply.code(201).send({ passkey: r.value }) : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'GET',
      url: '/auth/passkeys',
      schema: { tags, security, summary: 'The caller’s passkeys', response: { 200: ms.passkeysResponse, ...errors(401) } },
      authenticate: true,
      handler: async (request) => ({ passkeys: await passkeys.list(authOf(request).userId) }),
    },
    {
      ...api,
      method: 'DELETE',
      url: '/auth/passkeys/:id',
      schema: { tags, security, summary: 'Remove a passkey', description: 'Needs a sign-in within 5 minutes; every other session of the user ends. The last passkey of an account with no password and no linked provider is kept (409 last_sign_in_method).', params: ms.passkeyParams, response: { 204: s.noContent, ...errors(401, 403, 404, 409) } },
      authenticate: true,
      handler: async (request, reply) => {
        const r = await passkeys.remove(authOf(request), (request.params as { id: string }).id, device(request));
        return r.ok ? reply.code(204).send() : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'PATCH',
      url: '/auth/passkeys/:id',
      schema: { tags, security, summary: 'Rename a passkey', params: ms.passkeyParams, body: ms.renamePasskeyBody, response: { 200: ms.passkeyResponse, ...errors(400, 401, 404) } },
      authenticate: true,
      handler: async (request, reply) => {
        const r = await passkeys.rename(authOf(request), (request.params as { id: string }).id, (request.body as { name: string }).name);
        return r.ok ? { passkey: r.value } : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/passkeys/login/options',
      schema: { tags, summary: 'WebAuthn options for signing in with a passkey', body: ms.emptyBody, response: { 200: ms.webauthnOptionsResponse, ...errors(400, 429) } },
      preValidation: emptyBodyOk,
      handler: async (request, reply) => {
        const r = await passkeys.loginOptions(rp, device(request));
        return r.ok ? r.value : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/passkeys/login',
      schema: {
        tags,
        summary: 'Sign in with a passkey, no password',
        description: 'With `Tokenstile-Transport: cookie`, answered as `POST /auth/login` is. `amr`: hwk, and user when the authenticator verified the user.',
        headers: s.transportHeaders,
        body: ms.passkeyLoginBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403) },
      },
      preHandler: signIn.proof,
      handler: async (request, reply) => {
        const refused = signIn.refuseForeign(request, reply);
        if (refused) return refused;
        const r = await passkeys.login(rp, (request.body as { credential: unknown }).credential, device(request));
        if (!r.ok) return 'details' in r ? sendRefusal(reply, r) : sendProblem(reply, r.code, failureDetails(r));
        return signIn.answer(request, reply, r.value);
      },
    },
  ];
  return { routes };
}
