import { fail, ok, type Result } from '../../core/errors.ts';
import type { SocialDeps } from './social-deps.ts';

/** An identity as `GET /auth/identities` shows it. */
export interface IdentityView {
  readonly id: string;
  readonly provider: string;
  /** The provider's display name (the id when the provider is no longer configured). */
  readonly providerName: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** The user's linked identities, oldest first. */
export async function listIdentities(deps: SocialDeps, userId: string): Promise<IdentityView[]> {
  const names = new Map(deps.providers.map((p) => [p.config.id, p.config.name]));
  return (await deps.store.identitiesOf(userId)).map((i) => ({
    id: i.id,
    provider: i.provider,
    providerName: names.get(i.provider) ?? i.provider,
    email: i.email,
    emailVerified: i.emailVerified,
    createdAt: new Date(i.createdAt).toISOString(),
  }));
}

/**
 * Unlinks an identity, unless it is the user's last way to sign in (no password, no passkey and
 * no other identity): `last_sign_in_method`. Sessions it started go on (ending them is a separate choice,
 * on the devices list).
 */
export async function unlinkIdentity(deps: SocialDeps, userId: string, id: string): Promise<Result<void, 'not_found' | 'last_sign_in_method'>> {
  const identity = (await deps.store.identitiesOf(userId)).find((i) => i.id === id);
  if (identity === undefined) return fail('not_found');
  const removed = await deps.store.removeIdentity(userId, id, !(await deps.signsInOtherwise(userId)));
  if (removed !== 'removed') return fail(removed === 'last' ? 'last_sign_in_method' : 'not_found');
  deps.emit({ type: 'social.identity_unlinked', userId, provider: identity.provider });
  return ok(undefined);
}
