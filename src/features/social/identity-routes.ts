import { authOf } from '../../http/authenticate.ts';
import type { RouteDefinition } from '../../http/http-types.ts';
import { sendProblem } from '../../http/problem.ts';
import { device } from '../../http/request-device.ts';
import { noContent } from '../../http/schemas.ts';
import { errorResponses as errors, type RouteSet } from '../../http/routes/route-context.ts';
import { formType } from '../../http/routes/oauth.ts';
import * as s from './social-schemas.ts';
import type { Social } from './social.ts';

const security = [{ bearerAuth: [] }];

/** `GET /auth/identities`, `DELETE /auth/identities/:id` and `POST /auth/oauth/:provider/backchannel-logout`. */
export function identityRoutes(social: Social): RouteSet {
  const routes: RouteDefinition[] = [
    {
      method: 'GET',
      url: '/auth/identities',
      group: 'api',
      body: 'json',
      authenticate: true,
      schema: { tags: ['social'], security, summary: 'The providers connected to your account, and whether it has a password', response: { 200: s.identitiesResponse, ...errors(401) } },
      handler: async (request) => social.identities(authOf(request).userId),
    },
    {
      method: 'DELETE',
      url: '/auth/identities/:id',
      group: 'api',
      body: 'json',
      authenticate: true,
      schema: {
        tags: ['social'],
        security,
        summary: 'Disconnect a provider from your account',
        description: 'Refused with `409 last_sign_in_method` when it is the only way left to sign in (no password, no other provider).',
        params: s.identityParams,
        response: { 204: noContent, ...errors(401, 404, 409) },
      },
      handler: async (request, reply) => {
        const r = await social.unlink(authOf(request).userId, (request.params as { id: string }).id);
        if (!r.ok) return sendProblem(reply, r.code, r.code === 'not_found' ? { detail: 'No identity of yours has this id.' } : {});
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/auth/oauth/:provider/backchannel-logout',
      group: 'oauth',
      body: 'form',
      schema: {
        tags: ['social'],
        summary: 'OpenID Connect Back-Channel Logout: the provider ends the sessions its session started',
        description: 'Form body `logout_token` (a JWT signed by the provider). Answers 200 once every instance refuses the ended sessions\' tokens; 400 `invalid_logout_token` for a token that is not valid or was used before.',
        consumes: [formType],
        params: s.providerParams,
        body: s.logoutTokenForm,
        response: { 200: { type: 'null', description: 'The sessions have ended' }, ...errors(400, 404, 502) },
      },
      handler: async (request, reply) => {
        const { provider } = request.params as { provider: string };
        const r = await social.backchannelLogout(provider, (request.body as { logout_token: string }).logout_token, device(request));
        if (!r.ok) return sendProblem(reply, r.code);
        return reply.code(200).send();
      },
    },
  ];
  return { routes };
}
