import { checkEmail } from '../../core/account-text.ts';
import type { DeviceInfo } from '../../core/context.ts';
import { invalid, ok, type Result } from '../../core/errors.ts';
import { passwordWeakness } from '../../core/password-strength.ts';
import { admitMailRequest, invalidCode, liveUserById, liveUserByEmail, mailLink, originOf, passwordRecord, type RecoveryContext } from './recovery-context.ts';

/** The one-time-token purpose of reset links. */
export const resetPurpose = 'password_reset';

/** What a reset token remembers: the credential stamp when it was issued (a later change voids it). */
interface ResetData {
  readonly stamp: number;
}

/**
 * `POST /auth/password/forgot`: answers at once, the same for every address; the lookup, the
 * token and the mail happen afterwards (`BackgroundWork`). A user with an account (not disabled)
 * gets a reset link; nobody else gets anything. Limited per address and per IP.
 */
export async function forgotPassword(rc: RecoveryContext, input: { readonly email: string }, device: DeviceInfo): Promise<Result<void, 'invalid_request' | 'too_many_requests'>> {
  const email = checkEmail(input.email);
  if (!email.ok) return invalid('email', email.reason);
  const admitted = await admitMailRequest(rc, email.value, device);
  if (!admitted.ok) return admitted;
  rc.background.run('password reset', async () => {
    const user = await liveUserByEmail(rc, email.value);
    if (user === null) return;
    const data: ResetData = { stamp: user.credentialStamp };
    const mailId = await mailLink(rc, { user, purpose: resetPurpose, action: 'reset', kind: 'password_reset', to: user.email, ttlMs: rc.settings.passwordResetTtlMs, data });
    rc.kit.emit({ type: 'recovery.reset_requested', userId: user.id, mailId, ...originOf(device) });
  });
  return ok(undefined);
}

/**
 * `POST /auth/password/reset`: sets a new password with a reset link's token, and ends every
 * session of the user, acknowledged by every instance before it answers. The token is refused
 * (`invalid_code`) when unknown, used, expired, replaced by a newer one, voided by a successful
 * sign-in, or when the password changed since it was issued (the credential stamp moved). A weak
 * password is refused first, without spending the token, so the user can try another.
 */
export async function resetPassword(
  rc: RecoveryContext,
  input: { readonly token: string; readonly newPassword: string },
  device: DeviceInfo,
): Promise<Result<void, 'weak_password' | 'invalid_code'>> {
  const weakness = await passwordWeakness(input.newPassword);
  if (weakness !== null) return { ok: false, code: 'weak_password', reason: weakness };
  const consumed = await rc.kit.oneTimeTokens.consume(resetPurpose, input.token);
  if (consumed === null) return invalidCode();
  const user = await liveUserById(rc, consumed.userId);
  const stamp = (consumed.data as Partial<ResetData> | null)?.stamp;
  if (user === null || user.credentialStamp !== stamp) return invalidCode();
  const now = rc.kit.clock.now();
  // Moves the stamp: a sign-in checked against the old password cannot start a session after this.
  if ((await rc.kit.stores.credentials.replace(await passwordRecord(rc, user.id, input.newPassword, now), now)) === null) return invalidCode();
  // The link came by mail: the address is proven.
  if (user.emailVerifiedAt === null) await rc.kit.stores.users.update(user.id, { emailVerifiedAt: now }, now);
  // Whoever held the account before the reset loses what they may have asked for: sign-in links,
  // and a change of email to their own address (its link also remembers the old credential stamp).
  await rc.kit.oneTimeTokens.revokeFor(user.id, [resetPurpose, 'magic_link', 'email_change']);
  rc.kit.emit({ type: 'recovery.password_reset', userId: user.id, ...originOf(device) });
  await rc.kit.revoke({ userId: user.id }, 'password_reset', originOf(device));
  await rc.kit.dropCache(user.id);
  return ok(undefined);
}

/** Voids the user's reset links: a successful sign-in shows they know their password after all. */
export async function voidResetLinks(rc: RecoveryContext, userId: string): Promise<void> {
  await rc.kit.oneTimeTokens.revokeFor(userId, [resetPurpose]);
}
