import { internals } from '../../core/core-internals.ts';
import { checkSignInProof } from '../../http/dpop.ts';
import { featureApi } from '../../core/feature.ts';
import { authOf } from '../../http/authenticate.ts';
import { browserSession, setSessionCookies, wantsCookies } from '../../http/cookie-transport.ts';
import { originAllowed } from '../../http/csrf.ts';
import type { HttpReply, HttpRequest, RouteDefinition } from '../../http/http-types.ts';
import { device } from '../../http/request-device.ts';
import { failureDetails, sendProblem, sendRefusal } from '../../http/problem.ts';
import { recentAuthGuard } from '../mfa/step-up.ts';
import * as s from '../../http/schemas.ts';
import { errorResponses as errors, type RouteContext, type RouteSet } from '../../http/routes/route-context.ts';
import type { Result } from '../../core/errors.ts';
import { recoveryFeature } from './recovery-feature.ts';
import * as r from './recovery-schemas.ts';

const tags = ['account recovery'];
const security = [{ bearerAuth: [] }];
const api = { group: 'api', body: 'json' } as const;

/** Answers a core result: `status` with no body, or the failure as problem+json (a weak password says why). */
function answer(reply: HttpReply, result: Result<unknown>, status: 202 | 204): HttpReply {
  return result.ok ? reply.code(status).send() : sendProblem(reply, result.code, failureDetails(result));
}

/** No body means `{}` (a JSON null is a body, and not an object). */
function emptyIsObject(request: HttpRequest): void {
  if (request.body === undefined) request.body = {};
}

/**
 * Password reset, email verification, change of email and sign-in links: `/auth/password/forgot`,
 * `/auth/password/reset`, `/auth/email/verify…`, `/auth/email/change…`, `/auth/magic-link…`.
 */
export function recoveryRoutes({ core, browser }: RouteContext): RouteSet {
  // A core opened without the feature (an embedder's own list) serves none of its routes.
  if (!internals(core).features.has(recoveryFeature.name)) return { routes: [] };
  const recovery = featureApi(core, recoveryFeature);
  const routes: RouteDefinition[] = [
    {
      ...api,
      method: 'POST',
      url: '/auth/password/forgot',
      schema: {
        tags,
        summary: 'Ask for a password-reset link by mail',
        description: 'Answers 202 at once for any address, known or not; an account gets a link (valid 30 minutes by default) that the account page opens.',
        body: r.emailBody,
        response: { 202: r.accepted, ...errors(400, 429) },
      },
      handler: async (request, reply) => answer(reply, await recovery.forgotPassword(request.body as { email: string }, device(request)), 202),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/password/reset',
      schema: {
        tags,
        summary: 'Set a new password with a reset link; every session of the user ends',
        description: 'Every session of the user is ended, on every instance, before this answers. `401 invalid_code`: the link is wrong, used, expired, replaced by a newer one, or voided by a sign-in or password change since.',
        body: r.resetBody,
        response: { 204: s.noContent, ...errors(400, 401) },
      },
      handler: async (request, reply) => answer(reply, await recovery.resetPassword(request.body as { token: string; newPassword: string }, device(request)), 204),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/email/verify/request',
      schema: { tags, security, summary: 'Mail a verification link to the signed-in user', body: r.emptyBody, response: { 202: r.accepted, ...errors(400, 401, 429) } },
      authenticate: true,
      preValidation: emptyIsObject,
      handler: async (request, reply) => answer(reply, await recovery.requestVerification(authOf(request), device(request)), 202),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/email/verify/resend',
      schema: {
        tags,
        summary: 'Mail a new verification link to an address (signed out)',
        description: 'For a sign-in refused with `email_not_verified`. Answers 202 for any address; an unverified account gets a link.',
        body: r.emailBody,
        response: { 202: r.accepted, ...errors(400, 429) },
      },
      handler: async (request, reply) => answer(reply, await recovery.resendVerification(request.body as { email: string }, device(request)), 202),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/email/verify',
      schema: { tags, summary: 'Verify the email with the token of a verification link', body: r.tokenBody, response: { 204: s.noContent, ...errors(400, 401) } },
      handler: async (request, reply) => answer(reply, await recovery.verifyEmail(request.body as { token: string }, device(request)), 204),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/email/change',
      schema: {
        tags,
        security,
        summary: 'Change the email: a confirmation link goes to the new address, a notice to the old',
        description: 'Answers 202 whether or not another account has the new address (no link goes to an address that is taken), so that it tells nobody which addresses have accounts.',
        body: r.emailChangeBody,
        response: { 202: r.accepted, ...errors(400, 401, 403, 429) },
      },
      authenticate: true,
      handler: async (request, reply) => {
        // With second factors on, a recent proof of identity too (403 reauthentication_required).
        const recent = await recentAuthGuard(core)?.(authOf(request));
        if (recent && !recent.ok) return sendProblem(reply, recent.code);
        return answer(reply, await recovery.requestEmailChange(authOf(request), request.body as { newEmail: string; password?: string }, device(request)), 202);
      },
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/email/change/confirm',
      schema: {
        tags,
        summary: 'Confirm a new email with the token of its link; the other sessions end',
        description: 'Every session of the user but the one that asked for the change is ended, on every instance, before this answers.',
        body: r.tokenBody,
        response: { 204: s.noContent, ...errors(400, 401, 409) },
      },
      handler: async (request, reply) => answer(reply, await recovery.confirmEmailChange(request.body as { token: string }, device(request)), 204),
    },
    {
      ...api,
      method: 'GET',
      url: '/auth/magic-link',
      schema: { tags, summary: 'Whether sign-in links are on: the account page offers them only then', response: { 200: r.magicLinkStatus } },
      // 200 either way: a 404 would show as an error in every visitor's browser console.
      handler: async (_request, reply) => reply.code(200).send({ enabled: recovery.settings.magicLink }),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/magic-link',
      schema: {
        tags,
        summary: 'Mail a sign-in link (when sign-in links are on)',
        description: 'Answers 202 for any address; an account gets a link (valid 15 minutes by default). 404 while sign-in links are off.',
        body: r.emailBody,
        response: { 202: r.accepted, ...errors(400, 404, 429) },
      },
      handler: async (request, reply) => answer(reply, await recovery.requestMagicLink(request.body as { email: string }, device(request)), 202),
    },
    {
      ...api,
      method: 'POST',
      url: '/auth/magic-link/verify',
      schema: {
        tags,
        summary: 'Sign in with the token of a sign-in link',
        description: 'A new session with `amr: ["email"]`. With `Tokenstile-Transport: cookie`, the tokens are set as HttpOnly cookies and the body carries the CSRF token instead.',
        headers: s.transportHeaders,
        body: r.tokenBody,
        response: { 200: s.tokenOrBrowserResponse, ...errors(400, 401, 403, 404) },
      },
      preHandler: (request, reply) => checkSignInProof(core, request, reply),
      handler: async (request, reply) => {
        const cookies = wantsCookies(request);
        if (cookies && !originAllowed(request, browser)) return sendProblem(reply, 'csrf_failed', { detail: 'This origin may not sign in with the cookie transport.' });
        const result = await recovery.verifyMagicLink(request.body as { token: string }, device(request));
        if (!result.ok) return 'details' in result ? sendRefusal(reply, result) : sendProblem(reply, result.code, failureDetails(result));
        if (!cookies) return result.value;
        setSessionCookies(reply, result.value, browser);
        return browserSession(core, result.value);
      },
    },
  ];
  return { routes };
}
