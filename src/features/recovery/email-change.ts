import { checkEmail } from '../../core/account-text.ts';
import type { AuthInfo } from '../../core/auth-info.ts';
import type { DeviceInfo } from '../../core/context.ts';
import { passwordCredential } from '../../core/credential-store.ts';
import { fail, invalid, ok, type Result } from '../../core/errors.ts';
import { normalizePassword } from '../../core/password.ts';
import { requireRecentAuth } from '../mfa/step-up.ts';
import { admitMailRequest, invalidCode, liveUserById, mailLink, originOf, type RecoveryContext } from './recovery-context.ts';

/** The one-time-token purpose of links confirming a new address. */
export const emailChangePurpose = 'email_change';

/**
 * What a change token remembers: both addresses, the session that asked (it stays signed in), and
 * the credential stamp when it was asked: a password change or reset since (the owner taking the
 * account back) voids the link, as does the end of the session that asked.
 */
interface ChangeData {
  readonly from: string;
  readonly to: string;
  readonly sessionId: string;
  readonly stamp: number;
}

/**
 * `POST /auth/email/change {newEmail, password}` (signed in): checks the password (wrong ones
 * are limited like failed sign-ins) or, for an account without one (made by a provider sign-in),
 * that the session proved who it is within 5 minutes (`auth_time`: a sign-in, or a
 * re-authentication by passkey, TOTP or provider; else `reauthentication_required`), then
 * answers; a notice goes to the old address and, when no
 * other account has the new one, a confirmation link to it. The answer and its timing are the same
 * whether the new address is taken (the lookup and the mail come after it), so the route does not
 * tell which addresses have accounts. Nothing changes until the link is followed.
 */
export async function requestEmailChange(
  rc: RecoveryContext,
  auth: AuthInfo,
  input: { readonly newEmail: string; readonly password?: string },
  device: DeviceInfo,
): Promise<Result<void, 'invalid_request' | 'invalid_credentials' | 'session_revoked' | 'too_many_requests' | 'reauthentication_required'>> {
  const email = checkEmail(input.newEmail);
  if (!email.ok) return invalid('newEmail', email.reason);
  const user = await liveUserById(rc, auth.userId);
  if (user === null) return fail('session_revoked');
  if (email.value === user.email) return invalid('newEmail', 'is already the address of this account');
  const limited = await rc.kit.limits.check('loginPerAccount', `email-change:${user.id}`, rc.kit.clock.now());
  if (!limited.ok) return limited;
  const [credential] = await rc.kit.stores.credentials.list(user.id, passwordCredential);
  if (credential === undefined) {
    const recent = await requireRecentAuth(rc.kit, auth);
    if (!recent.ok) return recent;
  } else if (input.password === undefined) {
    return invalid('password', 'is required');
  } else if (!(await rc.kit.hasher.verify(credential.secret, normalizePassword(input.password)))) {
    rc.kit.emit({ type: 'recovery.email_change_failed', userId: user.id, sessionId: auth.sessionId, ...originOf(device) });
    return fail('invalid_credentials');
  }
  const admitted = await admitMailRequest(rc, user.email, device);
  if (!admitted.ok) return admitted;
  const data: ChangeData = { from: user.email, to: email.value, sessionId: auth.sessionId, stamp: user.credentialStamp };
  rc.background.run('change of email', async () => {
    const ttlMs = rc.settings.emailChangeTtlMs;
    const site = new URL(rc.settings.appUrl).host;
    const taken = (await rc.kit.stores.users.byEmail(email.value)) !== null;
    const mailId = taken ? null : await mailLink(rc, { user, purpose: emailChangePurpose, action: 'email-change', kind: 'email_change_confirm', to: email.value, ttlMs, data, newEmail: email.value });
    await rc.mailer.enqueue('email_change_notice', user.email, { email: user.email, newEmail: email.value, site }, ttlMs);
    rc.kit.emit({ type: 'recovery.email_change_requested', userId: user.id, sessionId: auth.sessionId, mailId, ...(taken && { refused: 'email_taken' }), ...originOf(device) });
  });
  return ok(undefined);
}

/**
 * `POST /auth/email/change/confirm {token}`: makes the new address the account's (verified: the
 * link reached it) and ends every other session of the user than the one that asked. `invalid_code`
 * for an unknown, used or expired link, or when since it was sent the account's address or
 * password changed or the session that asked ended; `email_taken` when another account took the
 * address meanwhile.
 */
export async function confirmEmailChange(rc: RecoveryContext, input: { readonly token: string }, device: DeviceInfo): Promise<Result<void, 'invalid_code' | 'email_taken'>> {
  const consumed = await rc.kit.oneTimeTokens.consume(emailChangePurpose, input.token);
  if (consumed === null) return invalidCode();
  const data = consumed.data as Partial<ChangeData> | null;
  const user = await liveUserById(rc, consumed.userId);
  if (user === null || typeof data?.to !== 'string' || user.email !== data.from || user.credentialStamp !== data.stamp) return invalidCode();
  const now = rc.kit.clock.now();
  const asker = typeof data.sessionId === 'string' ? await rc.kit.stores.sessions.get(data.sessionId) : null;
  if (asker === null || asker.userId !== user.id || asker.revokedAt !== null || asker.expiresAt <= now) return invalidCode();
  const changed = await rc.kit.stores.users.changeEmail(user.id, data.to, now, now);
  if (changed === 'email_taken') return fail('email_taken');
  if (changed === null) return invalidCode();
  // Links sent to the old address must not act on the account any more.
  await rc.kit.oneTimeTokens.revokeFor(user.id, ['password_reset', 'verify_email', 'magic_link']);
  rc.kit.emit({ type: 'recovery.email_changed', userId: user.id, ...originOf(device) });
  await rc.kit.revoke({ userId: user.id, exceptSessionId: asker.id }, 'email_change', originOf(device));
  await rc.kit.dropCache(user.id);
  return ok(undefined);
}
