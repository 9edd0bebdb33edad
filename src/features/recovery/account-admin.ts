import { fail, ok, type Result } from '../../core/errors.ts';
import { passwordWeakness } from '../../core/password-strength.ts';
import { markVerified } from './email-verification.ts';
import { resetPurpose } from './password-reset.ts';
import { passwordRecord, type RecoveryContext } from './recovery-context.ts';

/**
 * An operator's recovery of an account (`tokenstile users set-password`): sets the password under
 * the same policy as users get, voids the user's reset, sign-in and change-of-email links, and ends every session of the user,
 * acknowledged like a reset. `not_found` when there is no such user.
 */
export async function setPassword(rc: RecoveryContext, userId: string, password: string): Promise<Result<void, 'not_found' | 'weak_password'>> {
  const user = await rc.kit.stores.users.byId(userId);
  if (user === null) return fail('not_found');
  const weakness = await passwordWeakness(password, [user.email, user.name]);
  if (weakness !== null) return { ok: false, code: 'weak_password', reason: weakness };
  const now = rc.kit.clock.now();
  if ((await rc.kit.stores.credentials.replace(await passwordRecord(rc, user.id, password, now), now)) === null) return fail('not_found');
  await rc.kit.oneTimeTokens.revokeFor(user.id, [resetPurpose, 'magic_link', 'email_change']);
  rc.kit.emit({ type: 'recovery.password_set', userId: user.id });
  await rc.kit.revoke({ userId: user.id }, 'admin');
  await rc.kit.dropCache(user.id);
  return ok(undefined);
}

/** `tokenstile users verify-email`: marks the user's current address verified. */
export async function verifyEmailOf(rc: RecoveryContext, userId: string): Promise<Result<void, 'not_found'>> {
  const user = await rc.kit.stores.users.byId(userId);
  if (user === null) return fail('not_found');
  await markVerified(rc, user);
  rc.kit.emit({ type: 'recovery.email_verified', userId: user.id, by: 'admin' });
  return ok(undefined);
}

/** `tokenstile users enable`: lets a disabled account sign in again (its ended sessions stay ended). */
export async function enableUser(rc: RecoveryContext, userId: string): Promise<Result<void, 'not_found'>> {
  const now = rc.kit.clock.now();
  const user = await rc.kit.stores.users.update(userId, { disabledAt: null }, now);
  if (user === null) return fail('not_found');
  rc.kit.emit({ type: 'recovery.user_enabled', userId });
  await rc.kit.dropCache(userId);
  return ok(undefined);
}
