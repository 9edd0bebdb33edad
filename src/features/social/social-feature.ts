import { normalizeEmail } from '../../core/accounts.ts';
import { checkEmail, checkName } from '../../core/account-text.ts';
import { passwordCredential } from '../../core/credential-store.ts';
import { featureApi, type CoreFeature, type FeatureKit } from '../../core/feature.ts';
import { uuidv7 } from '../../core/ids.ts';
import type { Tokenstile } from '../../core/tokenstile.ts';
import { internals } from '../../core/core-internals.ts';
import type { UserRecord } from '../../core/user-store.ts';
import { originOf } from '../../core/context.ts';
import { ok } from '../../core/errors.ts';
import { ProviderClient } from './provider-client.ts';
import { parseProviders, type ProviderOptions } from './provider-options.ts';
import { createSocial, type Social } from './social.ts';
import type { SocialDeps } from './social-deps.ts';
import { socialMigrations } from './social-migrations.ts';
import { sqlSocialStore } from './social-store.ts';
import { heldSignInStarted } from './social-flow.ts';

/** Why a session ended by a provider's back-channel logout (audit trail, events). */
export const backchannelCause = 'backchannel_logout';

/** The social feature's dependencies, made from the feature kit. */
export function socialDeps(kit: FeatureKit, providers: string | readonly ProviderOptions[] | undefined): SocialDeps {
  const { stores, clock } = kit;
  const now = () => clock.now();
  return {
    providers: parseProviders(providers).map((p) => new ProviderClient(p)),
    store: sqlSocialStore(kit.db),
    tokens: kit.oneTimeTokens,
    now,
    random: kit.random,
    sessionLifetimeMs: kit.config.sessionMaxLifetimeMs,
    clockToleranceSeconds: Math.ceil(kit.config.clockToleranceMs / 1000),
    logger: kit.logger,
    emit: (event) => kit.emit(event),
    userById: (id) => stores.users.byId(id),
    userByEmail: async (email) => {
      const normalized = normalizeEmail(email);
      return normalized === null ? null : stores.users.byEmail(normalized);
    },
    async createUser({ email, name, emailVerified }) {
      const checked = checkEmail(email);
      if (!checked.ok) return 'invalid_email';
      const at = now();
      // A provider's display name is kept only when it fits the core's rules for names.
      const checkedName = checkName(name);
      const user: UserRecord = {
        id: uuidv7(at, kit.random),
        email: checked.value,
        name: checkedName.ok ? checkedName.value : null,
        credentialStamp: 0,
        createdAt: at,
        updatedAt: at,
        disabledAt: null,
        emailVerifiedAt: emailVerified ? at : null,
      };
      if (!(await stores.users.create(user))) return 'email_taken';
      kit.emit({ type: 'user_created', userId: user.id });
      return user;
    },
    // Starts are limited per client IP with the numbers of the `loginPerIp` rule (default 100 per
    // 15 minutes; off with it), on keys of their own, through the core's limits: shared by every
    // instance when the core's limiter is (Redis).
    async limitStart(device) {
      const counted = await kit.limits.check('loginPerIp', device.ip ? `social-start:${device.ip}` : null, now());
      if (counted.ok) return ok(undefined);
      kit.emit({ type: 'rate_limited', rule: 'socialStartPerIp' });
      return counted;
    },
    hasPassword: async (userId) => (await stores.credentials.list(userId, passwordCredential)).length > 0,
    signsInOtherwise: async (userId) => (await kit.signInMethods(userId, 'social')) > 0,
    setAuthTime: (sessionId, at) => stores.sessions.setAuthTime(sessionId, at),
    async sessionLive(userId, sessionId) {
      const s = await stores.sessions.get(sessionId);
      return s !== null && s.userId === userId && s.revokedAt === null && s.expiresAt > now();
    },
    checkSignIn: (user, amr, device, origin) => kit.checkSignIn({ user, amr, device }, origin),
    startSession: (user, amr, device) => kit.startSession(user, amr, device),
    async endSessions(sessionIds, device) {
      const ended = await Promise.all(sessionIds.map((sessionId) => kit.revoke({ sessionId }, backchannelCause, originOf(device))));
      return ended.reduce((n, r) => n + r.length, 0);
    },
  };
}

/**
 * Social and enterprise sign-in (issue 16, docs/social.md): OpenID Connect providers by discovery,
 * GitHub and Google presets, account linking, and back-channel logout. Its providers come from the
 * core's `oauthProviders` option (`TOKENSTILE_OAUTH_PROVIDERS`).
 */
export const socialFeature: CoreFeature<Social> = {
  name: 'social',
  migrations: socialMigrations,
  setup(kit) {
    const deps = socialDeps(kit, kit.config.oauthProviders as string | readonly ProviderOptions[] | undefined);
    kit.addPurge((at) => deps.store.purge(at));
    kit.onHeldSignInStarted((started) => heldSignInStarted(deps, started));
    kit.addSignInMethod('social', async (userId) => (await deps.store.identitiesOf(userId)).length);
    return createSocial(deps);
  },
};

/** The social feature's api on a core opened with it; null on a core opened without it (an embedder's choice). */
export function socialOf(core: Tokenstile): Social | null {
  return internals(core).features.has(socialFeature.name) ? featureApi(core, socialFeature) : null;
}
