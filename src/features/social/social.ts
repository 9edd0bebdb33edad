import type { DeviceInfo, IssuedTokens } from '../../core/context.ts';
import type { Result } from '../../core/errors.ts';
import type { SignInRefusal } from '../../core/feature.ts';
import { backchannelLogout } from './backchannel-logout.ts';
import { listIdentities, unlinkIdentity, type IdentityView } from './identities.ts';
import type { SocialDeps } from './social-deps.ts';
import { exchangeCode, finishFlow, startFlow, type FinishOutcome, type StartInput, type StartRefusal } from './social-flow.ts';

/** A configured provider as the public list shows it (no secret). */
export interface ProviderView {
  readonly id: string;
  readonly name: string;
  /** `oidc` (OpenID Connect, back-channel logout possible) or `oauth2` (GitHub). */
  readonly protocol: 'oidc' | 'oauth2';
}

/** The social feature's core (no HTTP): what its routes call, `featureApi(core, 'social')`. */
export interface Social {
  providers(): ProviderView[];
  start(input: StartInput): Promise<Result<{ url: string; flowToken: string }, StartRefusal>>;
  /** Null when the flow is unknown, spent, expired or another provider's (no return path to trust). */
  finish(providerId: string, flowToken: string | null, query: URLSearchParams, device: DeviceInfo): Promise<FinishOutcome | null>;
  /** A gate's refusal (`mfa_required`…) comes back as `login`'s does, with its `details`. */
  exchange(code: string, codeVerifier: string, device: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_code' | 'account_disabled' | 'invalid_dpop_proof'> | SignInRefusal>;
  /** The user's identities, and whether they have a password (the account page offers a password change only then). */
  identities(userId: string): Promise<{ identities: IdentityView[]; passwordSet: boolean }>;
  unlink(userId: string, id: string): Promise<Result<void, 'not_found' | 'last_sign_in_method'>>;
  backchannelLogout(providerId: string, logoutToken: unknown, device: DeviceInfo): Promise<Result<{ ended: number }, 'unknown_provider' | 'invalid_logout_token' | 'oauth_provider_error'>>;
  /** The id of the OpenID Connect provider configured with this issuer (a trailing slash aside), or null: for the Shared Signals receiver. */
  providerByIssuer(issuer: string): string | null;
  /** The user linked to the provider account `subject` of provider `providerId`, or null. */
  linkedUser(providerId: string, subject: string): Promise<string | null>;
  /** The Tokenstile sessions started by provider session `sid` (and of provider account `subject`, when given). */
  providerSessions(providerId: string, match: { readonly sid: string; readonly subject: string | null }): Promise<string[]>;
}

const withoutSlash = (issuer: string) => issuer.replace(/\/+$/, '');

export function createSocial(deps: SocialDeps): Social {
  return {
    providers: () => deps.providers.map((p) => ({ id: p.config.id, name: p.config.name, protocol: p.config.kind === 'oidc' ? 'oidc' : 'oauth2' })),
    start: (input) => startFlow(deps, input),
    finish: (providerId, flowToken, query, device) => finishFlow(deps, providerId, flowToken, query, device),
    exchange: (code, verifier, device) => exchangeCode(deps, code, verifier, device),
    identities: async (userId) => ({ identities: await listIdentities(deps, userId), passwordSet: await deps.hasPassword(userId) }),
    unlink: (userId, id) => unlinkIdentity(deps, userId, id),
    backchannelLogout: backchannelLogout(deps),
    providerByIssuer: (issuer) => deps.providers.find((p) => p.config.kind === 'oidc' && withoutSlash(p.config.issuer.href) === withoutSlash(issuer))?.config.id ?? null,
    linkedUser: async (providerId, subject) => (await deps.store.identity(providerId, subject))?.userId ?? null,
    providerSessions: (providerId, match) => deps.store.sessionsFor(providerId, match),
  };
}
