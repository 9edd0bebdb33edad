import { createHash, timingSafeEqual } from 'node:crypto';
import { originOf, type DeviceInfo, type IssuedTokens } from '../../core/context.ts';
import { fail, invalid, ok, type Result } from '../../core/errors.ts';
import type { HeldSignInStarted, SignInRefusal } from '../../core/feature.ts';
import type { UserRecord } from '../../core/user-store.ts';
import { flowSecrets, ProviderError } from './provider-client.ts';
import { federatedAmr, resolveAccount, type AccountRefusal, type LinkIntent } from './social-accounts.ts';
import type { HeldOrigin, SocialDeps } from './social-deps.ts';
import { reauthenticate } from './social-reauth.ts';

/** One-time token purposes of this feature. */
export const flowPurpose = 'social_flow';
export const exchangePurpose = 'social_exchange';
/** How long a started sign-in may take at the provider. */
export const flowTtlMs = 10 * 60_000;
/** How long a header client has to exchange its code. */
export const exchangeTtlMs = 2 * 60_000;

/** How the sign-in ends: cookies set by the callback (browsers), or a single-use code for `POST /auth/oauth/token` (header clients). */
export type FlowMode = 'cookie' | 'code';

/**
 * What the flow record keeps between the redirect and the callback (server-side, single use). No
 * secret: `state`, `nonce` and the PKCE verifier are derived from the flow token (`flowSecrets`),
 * of which only the SHA-256 is stored.
 */
interface FlowData {
  readonly provider: string;
  readonly redirectUri: string;
  readonly returnTo: string;
  readonly mode: FlowMode;
  readonly codeChallenge: string | null;
  readonly link: LinkIntent | null;
  /** With `link`: prove again who the signed-in user is (step-up), rather than connect a provider. */
  readonly reauthenticate?: boolean;
  /** The DPoP key the session is bound to (RFC 9449 §10 `dpop_jkt`), when the start named one. */
  readonly dpopJkt?: string;
}

/** What an exchange code stands for. */
interface ExchangeData {
  readonly amr: readonly string[];
  readonly provider: string;
  readonly subject: string;
  readonly sid: string | null;
  readonly codeChallenge: string | null;
  /** The start's `dpop_jkt`: the exchange must prove possession of that key. */
  readonly dpopJkt?: string;
}

export interface StartInput {
  readonly providerId: string;
  readonly redirectUri: string;
  /** Already checked against the allowed origins (`checkReturnTo`). */
  readonly returnTo: string;
  readonly mode: FlowMode;
  /** A header client's PKCE challenge (S256, base64url) for the exchange: required with mode `code`. */
  readonly codeChallenge?: string | null;
  readonly link?: LinkIntent | null;
  /** With `link`: a re-authentication of that session through a provider already linked to its user. */
  readonly reauthenticate?: boolean;
  /** Who starts it: each start writes a flow record, so starts are limited per client IP. */
  readonly device: DeviceInfo;
  /**
   * The thumbprint of the client's DPoP key (RFC 9449 §10 `dpop_jkt`): the session the callback
   * starts is bound to it; with mode `code`, the exchange must prove possession of it.
   */
  readonly dpopJkt?: string | null;
}

/** How a callback ended, for the HTTP layer to redirect (`returnTo` is null when the flow was never ours). */
export type FinishOutcome =
  | { readonly kind: 'refused'; readonly code: AccountRefusal | 'oauth_provider_error' | 'account_disabled' | 'reauthentication_required'; readonly returnTo: string | null; readonly provider: string }
  | { readonly kind: 'signed_in'; readonly tokens: IssuedTokens; readonly returnTo: string; readonly provider: string }
  | { readonly kind: 'code'; readonly code: string; readonly returnTo: string; readonly provider: string }
  /** A sign-in gate refused (`mfa_required`: the second step goes on with `details.mfaToken`). */
  | { readonly kind: 'gated'; readonly code: string; readonly details: Readonly<Record<string, unknown>>; readonly returnTo: string; readonly provider: string }
  | { readonly kind: 'linked'; readonly returnTo: string; readonly provider: string }
  | { readonly kind: 'reauthenticated'; readonly returnTo: string; readonly provider: string };

function client(deps: SocialDeps, id: string) {
  return deps.providers.find((p) => p.config.id === id) ?? null;
}

/** Why a start is refused. */
export type StartRefusal = 'unknown_provider' | 'oauth_provider_error' | 'too_many_requests' | 'invalid_request';

/** Starts a sign-in: the provider URL to redirect to, and the flow token for the browser's cookie. */
export async function startFlow(deps: SocialDeps, input: StartInput): Promise<Result<{ url: string; flowToken: string }, StartRefusal>> {
  const provider = client(deps, input.providerId);
  if (provider === null) return fail('unknown_provider');
  // A code that anyone holding it could exchange is not handed out: PKCE binds it to its client.
  if (input.mode === 'code' && !input.codeChallenge) return invalid('codeChallenge', 'is required with mode=code (the base64url SHA-256 of your codeVerifier)');
  // Before anything is written or fetched: anyone may start sign-ins, and each one stores a record.
  const limited = await deps.limitStart(input.device);
  if (!limited.ok) return limited;
  try {
    await provider.configuration();
  } catch (err) {
    deps.logger?.warn({ provider: input.providerId, err: (err as Error).message }, 'tokenstile: the sign-in provider cannot be reached');
    return fail('oauth_provider_error');
  }
  const data: FlowData = {
    provider: input.providerId,
    redirectUri: input.redirectUri,
    returnTo: input.returnTo,
    mode: input.mode,
    codeChallenge: input.codeChallenge ?? null,
    link: input.link ?? null,
    ...(input.reauthenticate === true && input.link && { reauthenticate: true }),
    ...(typeof input.dpopJkt === 'string' && { dpopJkt: input.dpopJkt }),
  };
  const flowToken = await deps.tokens.issue({ purpose: flowPurpose, userId: input.link?.userId ?? null, data, ttlMs: flowTtlMs });
  const url = await provider.authorizationUrl(input.redirectUri, flowSecrets(flowToken, provider.config.kind), data.reauthenticate === true);
  return ok({ url: url.href, flowToken });
}

function sameText(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/**
 * Finishes a sign-in at the callback: the flow record named by the browser's cookie is consumed
 * (single use) and must be this provider's, with the `state` the provider sent back; then the
 * code is exchanged and the ID token checked (`ProviderClient.finish`), the account decided
 * (`resolveAccount`), and the session started, a code issued, or the identity linked.
 */
export async function finishFlow(deps: SocialDeps, providerId: string, flowToken: string | null, query: URLSearchParams, device: DeviceInfo): Promise<FinishOutcome | null> {
  const provider = client(deps, providerId);
  const record = provider === null || flowToken === null ? null : await deps.tokens.consume(flowPurpose, flowToken);
  const flow = record?.data as FlowData | undefined;
  if (provider === null || flow === undefined || flow.provider !== providerId) return null;
  const refuse = (code: Extract<FinishOutcome, { kind: 'refused' }>['code']): FinishOutcome => {
    deps.emit({ type: 'social.sign_in_refused', provider: providerId, reason: code, ...originOf(device) });
    return { kind: 'refused', code, returnTo: flow.returnTo, provider: providerId };
  };
  const secrets = flowSecrets(flowToken!, provider.config.kind);
  const state = query.get('state');
  if (state === null || !sameText(state, secrets.state)) return refuse('oauth_flow_invalid');
  let profile;
  try {
    profile = await provider.finish(query, flow.redirectUri, secrets);
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    deps.logger?.warn({ provider: providerId, err: err.message }, 'tokenstile: a sign-in with a provider was refused');
    return refuse('oauth_provider_error');
  }
  if (flow.reauthenticate === true && flow.link !== null) {
    const done = await reauthenticate(deps, providerId, profile.subject, flow.link, device);
    return done === null ? { kind: 'reauthenticated', returnTo: flow.returnTo, provider: providerId } : refuse(done);
  }
  const account = await resolveAccount(deps, providerId, profile, flow.link);
  if (!account.ok) return refuse(account.code);
  const { user } = account.value;
  if (account.value.linked) {
    deps.emit({ type: 'social.identity_linked', userId: user.id, sessionId: flow.link?.sessionId ?? null, provider: providerId, ...originOf(device) });
    return { kind: 'linked', returnTo: flow.returnTo, provider: providerId };
  }
  if (account.value.created) deps.emit({ type: 'social.account_created', userId: user.id, provider: providerId, emailVerified: profile.emailVerified, ...originOf(device) });
  if (user.disabledAt !== null) return refuse('account_disabled');
  const amr = federatedAmr(profile);
  if (flow.mode === 'code') {
    const data: ExchangeData = { amr, provider: providerId, subject: profile.subject, sid: profile.sid, codeChallenge: flow.codeChallenge, ...(flow.dpopJkt !== undefined && { dpopJkt: flow.dpopJkt }) };
    const code = await deps.tokens.issue({ purpose: exchangePurpose, userId: user.id, data, ttlMs: exchangeTtlMs });
    return { kind: 'code', code, returnTo: flow.returnTo, provider: providerId };
  }
  const gated = await gate(deps, { provider: providerId, subject: profile.subject, sid: profile.sid }, user, amr, device);
  if (gated !== null) return { kind: 'gated', code: gated.code, details: gated.details, returnTo: flow.returnTo, provider: providerId };
  // No header can come with a redirect: the key named at the start binds the session (RFC 9449 §10).
  const tokens = await deps.startSession(user, amr, { ...device, dpopJkt: flow.dpopJkt ?? null });
  if (tokens === null) return refuse('account_disabled');
  await recordOrigin(deps, tokens.session.id, providerId, profile.subject, profile.sid);
  deps.emit({ type: 'social.signed_in', userId: user.id, sessionId: tokens.session.id, provider: providerId, amr: amr.join(' '), ...originOf(device) });
  return { kind: 'signed_in', tokens, returnTo: flow.returnTo, provider: providerId };
}

/**
 * Runs the sign-in gates for a provider sign-in, as `login` does for a password: the refusal
 * (audited as `social.sign_in_refused`) or null. A second factor is always asked of a user who
 * has one: the provider's own `amr` tells how they signed in there, not that they hold this
 * account's factor (`isMultiFactor`). The session the second step then starts has `amr` `fed` plus that step's
 * (`["fed", "otp", "mfa"]`); the provider origin is carried through the gate (`carry`) and
 * recorded when that step starts it (`heldSignInStarted`), so back-channel logout reaches it.
 */
async function gate(deps: SocialDeps, origin: HeldOrigin, user: UserRecord, amr: readonly string[], device: DeviceInfo): Promise<SignInRefusal | null> {
  const refused = await deps.checkSignIn(user, amr, device, origin);
  if (refused === null) return null;
  deps.emit({ type: 'social.sign_in_refused', provider: origin.provider, reason: refused.code, userId: user.id, ...originOf(device) });
  return { ok: false, code: refused.code, details: refused.details ?? {} };
}

/**
 * A session started by the second step of a provider sign-in that a gate held: its origin is
 * recorded (back-channel logout ends it) and the sign-in audited, as when no gate held it.
 */
export async function heldSignInStarted(deps: SocialDeps, started: HeldSignInStarted): Promise<void> {
  const origin = started.value as Partial<HeldOrigin> | null;
  if (typeof origin?.provider !== 'string' || typeof origin.subject !== 'string') return;
  const { tokens, amr, device } = started;
  await recordOrigin(deps, tokens.session.id, origin.provider, origin.subject, typeof origin.sid === 'string' ? origin.sid : null);
  deps.emit({ type: 'social.signed_in', userId: tokens.user.id, sessionId: tokens.session.id, provider: origin.provider, amr: amr.join(' '), ...originOf(device) });
}

function recordOrigin(deps: SocialDeps, sessionId: string, provider: string, subject: string, sid: string | null): Promise<void> {
  return deps.store.recordSession({ sessionId, provider, subject, sid, expiresAt: deps.now() + deps.sessionLifetimeMs });
}

/**
 * A header client's exchange of its single-use code for tokens, with the `codeVerifier` whose
 * S256 `codeChallenge` the flow started with (RFC 7636): a code seen by someone else (a log, a
 * browser extension, a leaked URL) is no use without it. A code is spent by any attempt.
 */
export async function exchangeCode(deps: SocialDeps, code: string, codeVerifier: string, device: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_code' | 'account_disabled' | 'invalid_dpop_proof'> | SignInRefusal> {
  const record = await deps.tokens.consume(exchangePurpose, code);
  if (record === null || record.userId === null) return fail('invalid_code');
  const data = record.data as ExchangeData;
  // A code without a challenge cannot be made any more (mode code requires one); never accept it.
  if (data.codeChallenge === null || !sameText(createHash('sha256').update(codeVerifier).digest('base64url'), data.codeChallenge)) return fail('invalid_code');
  // A code whose start named a DPoP key is exchanged only with a proof by that key (RFC 9449 §10).
  if (data.dpopJkt !== undefined && data.dpopJkt !== device.dpopJkt) return { ok: false, code: 'invalid_dpop_proof', reason: 'this code was requested for another DPoP key (dpop_jkt): send a proof signed by it' };
  const user = await deps.userById(record.userId);
  // The gates run at the exchange, where the header client can answer them (403 mfa_required).
  const gated = user === null || user.disabledAt !== null ? null : await gate(deps, { provider: data.provider, subject: data.subject, sid: data.sid }, user, data.amr, device);
  if (gated !== null) return gated;
  const tokens = user === null ? null : await deps.startSession(user, data.amr, device);
  if (tokens === null) return fail('account_disabled');
  await recordOrigin(deps, tokens.session.id, data.provider, data.subject, data.sid);
  deps.emit({ type: 'social.signed_in', userId: user!.id, sessionId: tokens.session.id, provider: data.provider, amr: data.amr.join(' '), ...originOf(device) });
  return ok(tokens);
}
