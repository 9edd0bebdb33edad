import { internals } from '../core/core-internals.ts';
import { authRoutes } from '../http/routes/auth.ts';
import { oauthRoutes } from '../http/routes/oauth.ts';
import { allRoutes } from '../http/routes/route-context.ts';
import { sessionStatusRoutes } from '../http/routes/session-status.ts';
import { sessionRoutes } from '../http/routes/sessions.ts';
import { wellKnownRoutes } from '../http/routes/well-known.ts';
import { authCodes } from './auth/auth-codes.ts';
import type { FeatureEntry } from './feature-entry.ts';
import { oauthCodes } from './oauth/oauth-codes.ts';
import { revocationStreamRoutes } from './revocation-stream/revocation-stream-routes.ts';
import { recoveryCodes } from './recovery/recovery-codes.ts';
import { recoveryFeature } from './recovery/recovery-feature.ts';
import { recoveryRoutes } from './recovery/recovery-routes.ts';
import { mfaCodes } from './mfa/mfa-codes.ts';
import { mfaFeature } from './mfa/mfa-feature.ts';
import { mfaRoutes } from './mfa/mfa-routes.ts';
import { passkeyRoutes } from './passkeys/passkey-routes.ts';
import { socialCodes } from './social/social-codes.ts';
import { ssfCodes } from './ssf/ssf-codes.ts';
import { ssfFeature } from './ssf/ssf-feature.ts';
import { ssfRoutes } from './ssf/ssf-routes.ts';
import { socialFeature } from './social/social-feature.ts';
import { socialRoutes } from './social/social-routes.ts';
import { ssfReceiverCodes } from './ssf-receiver/ssf-receiver-codes.ts';
import { ssfReceiverFeature } from './ssf-receiver/ssf-receiver-feature.ts';
import { ssfReceiverRoutes } from './ssf-receiver/ssf-receiver-routes.ts';

export type { FeatureEntry } from './feature-entry.ts';

/**
 * The features Tokenstile's servers (`buildApp`, the Fastify plugin, the Node and fetch handlers,
 * the CLI) open by default, in the order their routes are matched: the one list. A feature is a
 * folder (src/features/<name>/) and one entry here, plus its code set in `feature-codes.ts`.
 * Embedders may pass their own list (`features` option).
 */
export const features = [
  { name: 'auth', codes: authCodes, routes: allRoutes(authRoutes, sessionRoutes, sessionStatusRoutes) },
  { name: 'well-known', routes: wellKnownRoutes },
  { name: 'oauth', codes: oauthCodes, routes: oauthRoutes },
  { name: 'recovery', core: recoveryFeature, codes: recoveryCodes, routes: recoveryRoutes },
  {
    name: 'revocation-stream',
    routes: (context) => revocationStreamRoutes({ core: context.core, feed: internals(context.core), clients: context.clients, stream: context.revocationStream }),
  },
  { name: 'social', core: socialFeature, codes: socialCodes, routes: socialRoutes },
  { name: 'mfa', core: mfaFeature, codes: mfaCodes, routes: allRoutes(mfaRoutes, passkeyRoutes) },
  { name: 'ssf', core: ssfFeature, codes: ssfCodes, routes: ssfRoutes },
  { name: 'ssf-receiver', core: ssfReceiverFeature, codes: ssfReceiverCodes, routes: ssfReceiverRoutes },
] as const satisfies readonly FeatureEntry[];
