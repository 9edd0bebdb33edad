import { originOf, type DeviceInfo } from '../../core/context.ts';
import type { LinkIntent } from './social-accounts.ts';
import type { SocialDeps } from './social-deps.ts';

/**
 * Step-up through a provider, for an account that has no password (made by a provider sign-in):
 * the signed-in user signs in again at a provider linked to their account (`prompt=login` for
 * OpenID Connect), and the session's `auth_time` becomes now, as `POST /auth/reauthenticate`
 * does. Null when done; `oauth_flow_invalid` when the session ended meanwhile;
 * `reauthentication_required` when the provider account is not one linked to this user.
 */
export async function reauthenticate(
  deps: SocialDeps,
  provider: string,
  subject: string,
  intent: LinkIntent,
  device: DeviceInfo,
): Promise<'oauth_flow_invalid' | 'reauthentication_required' | null> {
  if (!(await deps.sessionLive(intent.userId, intent.sessionId))) return 'oauth_flow_invalid';
  const identity = await deps.store.identity(provider, subject);
  if (identity === null || identity.userId !== intent.userId) return 'reauthentication_required';
  if (!(await deps.setAuthTime(intent.sessionId, deps.now()))) return 'oauth_flow_invalid';
  deps.emit({ type: 'social.reauthenticated', userId: intent.userId, sessionId: intent.sessionId, provider, ...originOf(device) });
  return null;
}
