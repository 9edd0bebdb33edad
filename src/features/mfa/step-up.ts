import type { AuthInfo } from '../../core/auth-info.ts';
import type { Clock } from '../../core/clock.ts';
import { fail, ok, type Result } from '../../core/errors.ts';
import type { SessionStore } from '../../core/session-store.ts';
import { internals } from '../../core/core-internals.ts';
import type { Tokenstile } from '../../core/tokenstile.ts';

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
  const claimed = auth.claims.auth_time;
  if (typeof claimed === 'number' && now - claimed * 1000 <= recentAuthMs) return ok(undefined);
  const session = await deps.stores.sessions.get(auth.sessionId);
  return session !== null && now - session.authTime <= recentAuthMs ? ok(undefined) : fail('reauthentication_required');
}

/**
 * The step-up check of a core, for routes that only have the core (a password change, an email
 * change, an account deletion): `requireRecentAuth` when the core was opened with the MFA feature
 * (which serves `POST /auth/reauthenticate`, the way to pass it), else null: without a way to
 * re-authenticate, no change is gated.
 *
 * @example
 * const recent = await recentAuthGuard(core)?.(auth);
 * if (recent && !recent.ok) return sendProblem(reply, recent.code);
 */
export function recentAuthGuard(core: Tokenstile): ((auth: AuthInfo) => Promise<Result<void, 'reauthentication_required'>>) | null {
  const api = internals(core).features.get('mfa') as { requireRecentAuth?: (auth: AuthInfo) => Promise<Result<void, 'reauthentication_required'>> } | undefined;
  return api?.requireRecentAuth ?? null;
}
