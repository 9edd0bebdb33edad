import { internals } from '../../core/core-internals.ts';
import { featureApi } from '../../core/feature.ts';
import { authOf } from '../../http/authenticate.ts';
import type { RouteDefinition } from '../../http/http-types.ts';
import { failureDetails, sendProblem } from '../../http/problem.ts';
import { device } from '../../http/request-device.ts';
import { signInAnswers } from '../../http/routes/auth.ts';
import { errorResponses as errors, type RouteContext, type RouteSet } from '../../http/routes/route-context.ts';
import * as s from '../../http/schemas.ts';
import { relyingParty } from '../passkeys/webauthn.ts';
import { mfaFeature, type MfaFeatureApi } from './mfa-feature.ts';
import * as ms from './mfa-schemas.ts';
import type { MfaVerification } from './mfa-service.ts';

const tags = ['mfa'];
const security = [{ bearerAuth: [] }];
const api = { group: 'api', body: 'json' } as const;

/**
 * `/auth/mfa/*` (TOTP set-up and removal, recovery codes, the second step of sign-in) and
 * `/auth/reauthenticate` (step-up).
 */
export function mfaRoutes(context: RouteContext): RouteSet {
  const { core, browser } = context;
  // A core opened without the feature (an embedder's choice) serves none of its routes.
  if (!internals(core).features.has(mfaFeature.name)) return { routes: [] };
  const { mfa, reauth } = featureApi(core, mfaFeature);
  const rp = relyingParty(core.config.issuer, browser.allowedOrigins);
  const signIn = signInAnswers(context);

  const routes: RouteDefinition[] = [
    {
      ...api,
      method: 'GET',
      url: '/auth/mfa',
      schema: { tags, security, summary: 'The caller’s second factors', response: { 200: ms.mfaStatusResponse, ...errors(401) } },
      authenticate: true,
      handler: async (request) => mfa.status(authOf(request).userId),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/mfa/totp/setup',
      schema: {
        tags,
        security,
        summary: 'Start setting up an authenticator app (TOTP)',
        description: 'Answers a new secret, pending until confirmed with a code. Needs a sign-in within 5 minutes.',
        body: ms.emptyBody,
        response: { 200: ms.totpSetupResponse, ...errors(401, 403, 409) },
      },
      authenticate: true,
      preValidation: emptyBodyOk,
      handler: async (request, reply) => {
        const r = await mfa.setupTotp(authOf(request));
        return r.ok ? r.value : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/mfa/totp/confirm',
      schema: {
        tags,
        security,
        summary: 'Turn TOTP on with a code from the app; answers ten recovery codes, once',
        description: 'Every other session of the user ends.',
        body: ms.confirmTotpBody,
        response: { 200: ms.recoveryCodesResponse, ...errors(400, 401, 403, 404, 429) },
      },
      authenticate: true,
      handler: async (request, reply) => {
        const r = await mfa.confirmTotp(authOf(request), (request.body as { code: string }).code, device(request));
        return r.ok ? r.value : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'DELETE',
      url: '/auth/mfa/totp',
      schema: { tags, security, summary: 'Turn TOTP off (and its recovery codes)', description: 'Every other session of the user ends.', response: { 204: s.noContent, ...errors(401, 403, 404) } },
      authenticate: true,
      handler: async (request, reply) => {
        const r = await mfa.removeTotp(authOf(request), device(request));
        return r.ok ? reply.code(204).send() : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/mfa/recovery-codes',
      schema: { tags, security, summary: 'Ten new recovery codes; the old ones stop working', body: ms.emptyBody, response: { 200: ms.recoveryCodesResponse, ...errors(401, 403, 404) } },
      authenticate: true,
      preValidation: emptyBodyOk,
      handler: async (request, reply) => {
        const r = await mfa.renewRecoveryCodes(authOf(request), device(request));
        return r.ok ? r.value : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/mfa/passkey/options',
      schema: { tags, summary: 'WebAuthn options for completing a sign-in with a passkey', body: ms.mfaTokenBody, response: { 200: ms.webauthnOptionsResponse, ...errors(400, 401) } },
      handler: async (request, reply) => {
        const r = await mfa.passkeyOptions(rp, (request.body as { mfaToken: string }).mfaToken);
        return r.ok ? r.value : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/mfa/verify',
      schema: {
        tags,
        summary: 'Complete a sign-in that answered mfa_required',
        description: 'A wrong code does not spend the mfaToken (5 tries). With `Tokenstile-Transport: cookie`, answered as `POST /auth/login` is.',
        headers: s.transportHeaders,
        body: ms.verifyBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403, 429) },
      },
      preHandler: signIn.proof,
      handler: async (request, reply) => {
        const refused = signIn.refuseForeign(request, reply);
        if (refused) return refused;
        const r = await mfa.verify(request.body as MfaVerification, rp, device(request));
        return r.ok ? signIn.answer(request, reply, r.value) : sendProblem(reply, r.code, failureDetails(r));
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/reauthenticate/options',
      schema: { tags, security, summary: 'WebAuthn options for re-authenticating with a passkey', body: ms.emptyBody, response: { 200: ms.webauthnOptionsResponse, ...errors(401) } },
      authenticate: true,
      preValidation: emptyBodyOk,
      handler: async (request) => mfa.reauthOptions(rp, authOf(request)),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/reauthenticate',
      schema: {
        tags,
        security,
        summary: 'Prove who you are again (step-up): the session’s auth_time becomes now',
        description: 'For 5 minutes after, sensitive changes (password, second factors, passkeys, email, account deletion) are allowed.',
        body: ms.reauthenticateBody,
        response: { 200: ms.reauthenticatedResponse, ...errors(400, 401, 429) },
      },
      authenticate: true,
      handler: async (request, reply) => {
        const r = await reauth(authOf(request), request.body as Parameters<MfaFeatureApi['reauth']>[1], rp, device(request));
        return r.ok ? { authTime: Math.floor(r.value / 1000) } : sendProblem(reply, r.code, failureDetails(r));
      },
    },
  ];
  return { routes };
}

/** No body (or `{}`) on an action without input. */
function emptyBodyOk(request: { body: unknown }): void {
  if (request.body === undefined) request.body = {};
}
