import { amrValues } from '../../core/amr.ts';
import { fail, ok, type Result } from '../../core/errors.ts';
import { uuidv7 } from '../../core/ids.ts';
import type { UserRecord } from '../../core/user-store.ts';
import type { UpstreamProfile } from './provider-client.ts';
import type { SocialDeps } from './social-deps.ts';

/** A sign-in started by a signed-in user to connect a provider to their account. */
export interface LinkIntent {
  readonly userId: string;
  readonly sessionId: string;
}

/** The codes an account decision may refuse with. */
export type AccountRefusal = 'oauth_flow_invalid' | 'oauth_email_missing' | 'link_required' | 'identity_in_use';

/**
 * The session's `amr`: `fed` (a federated sign-in, RFC 8176 usage) plus the provider's own `amr`
 * values that RFC 8176 defines (`mfa`, `hwk`, `otp`…), at most 8 in all. Unknown values are dropped.
 */
export function federatedAmr(profile: UpstreamProfile): readonly string[] {
  const upstream = profile.amr.filter((v) => v !== 'fed' && amrValues.has(v));
  return ['fed', ...new Set(upstream)].slice(0, 8);
}

/**
 * Decides whose account a provider sign-in is, by the rules of docs/social.md:
 * 1. An identity already linked signs in to its user (a link intent for another user is refused: `identity_in_use`).
 * 2. With a link intent (the user was signed in when the flow started, and that session still lives),
 *    the identity is linked to that user.
 * 3. Otherwise a new account is made from the provider's email, verified only when the provider says so.
 *    If an account has that email already, it is never linked silently, whether or not the email is
 *    verified: `link_required` (the owner signs in and links from the account page).
 */
export async function resolveAccount(
  deps: SocialDeps,
  provider: string,
  profile: UpstreamProfile,
  link: LinkIntent | null,
): Promise<Result<{ user: UserRecord; linked: boolean; created: boolean }, AccountRefusal>> {
  const known = await deps.store.identity(provider, profile.subject);
  if (link !== null) {
    if (!(await deps.sessionLive(link.userId, link.sessionId))) return fail('oauth_flow_invalid');
    const user = await deps.userById(link.userId);
    if (user === null) return fail('oauth_flow_invalid');
    if (known !== null) return known.userId === link.userId ? ok({ user, linked: true, created: false }) : fail('identity_in_use');
    if (!(await addIdentity(deps, provider, profile, user.id))) return fail('identity_in_use');
    return ok({ user, linked: true, created: false });
  }
  if (known !== null) {
    const user = await deps.userById(known.userId);
    return user === null ? fail('oauth_flow_invalid') : ok({ user, linked: false, created: false });
  }
  if (profile.email === null) return fail('oauth_email_missing');
  if ((await deps.userByEmail(profile.email)) !== null) return fail('link_required');
  const created = await deps.createUser({ email: profile.email, name: profile.name, emailVerified: profile.emailVerified });
  if (created === 'invalid_email') return fail('oauth_email_missing');
  if (created === 'email_taken') return fail('link_required');
  if (!(await addIdentity(deps, provider, profile, created.id))) {
    // A second callback for the same new identity won the race: sign in to its account.
    const winner = await deps.store.identity(provider, profile.subject);
    const user = winner === null ? null : await deps.userById(winner.userId);
    return user === null ? fail('oauth_flow_invalid') : ok({ user, linked: false, created: false });
  }
  return ok({ user: created, linked: false, created: true });
}

function addIdentity(deps: SocialDeps, provider: string, profile: UpstreamProfile, userId: string): Promise<boolean> {
  const now = deps.now();
  return deps.store.addIdentity({ id: uuidv7(now, deps.random), provider, subject: profile.subject, userId, email: profile.email, emailVerified: profile.emailVerified, createdAt: now });
}
