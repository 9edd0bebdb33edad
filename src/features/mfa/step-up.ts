import type { AuthInfo } from '../../core/auth-info.ts';
import type { Clock } from '../../core/clock.ts';
import { fail, ok, type Result } from '../../core/errors.ts';
import type { SessionStore } from '../../core/session-store.ts';

/** How recent a sign-in (or re-authentication) must be for a sensitive change: 5 minutes. */
export const recentAuthMs = 5 * 60_000;

/** What `requireRecentAuth` reads: a clock and the sessions (a feature kit has both). */
export interface RecentAuthDeps {
  readonly clock: Clock;
  readonly stores: { readonly sessions: Pick<SessionStore, 'get'> };
}

/**
 * Step-up for sensitive changes (password, email, second factors, passkeys, account deletion):
 * `reauthentication_required` unless the caller proved who they are within the last 5 minutes.
 * The access token's `auth_time` answers without I/O; when it is older, the session's `authTime`
 * is read, so that a `POST /auth/reauthenticate` counts at once, before the next refresh.
 *
 * @example
 * const recent = await requireRecentAuth(kit, auth);
 * if (!recent.ok) return recent; // 403 reauthentication_required
 */
export async function requireRecentAuth(deps: RecentAuthDeps, auth: AuthInfo): Promise<Result<void, 'reauthentication_required'>> {
  const now = deps.clock.now();
  const claimed = (auth.claims as { auth_time?: unknown }).auth_time;
  if (typeof claimed === 'number' && now - claimed * 1000 <= recentAuthMs) return ok(undefined);
  const session = await deps.stores.sessions.get(auth.sessionId);
  const at = (session as { authTime?: unknown } | null)?.authTime;
  return typeof at === 'number' && now - at <= recentAuthMs ? ok(undefined) : fail('reauthentication_required');
}
