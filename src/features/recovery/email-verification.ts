import { checkEmail } from '../../core/account-text.ts';
import type { AuthInfo } from '../../core/auth-info.ts';
import type { DeviceInfo } from '../../core/context.ts';
import { fail, invalid, ok, type Result } from '../../core/errors.ts';
import type { UserRecord } from '../../core/user-store.ts';
import { admitMailRequest, invalidCode, liveUserById, liveUserByEmail, mailLink, originOf, type RecoveryContext } from './recovery-context.ts';

/** The one-time-token purpose of verification links. */
export const verifyPurpose = 'verify_email';

/** What a verification token remembers: the address it proves (a change of email since voids it). */
interface VerifyData {
  readonly email: string;
}

/** Sends `user` a verification link for their current address. */
async function sendVerification(rc: RecoveryContext, user: UserRecord, device: DeviceInfo): Promise<void> {
  const data: VerifyData = { email: user.email };
  const mailId = await mailLink(rc, { user, purpose: verifyPurpose, action: 'verify', kind: 'verify_email', to: user.email, ttlMs: rc.settings.emailVerificationTtlMs, data });
  rc.kit.emit({ type: 'recovery.verification_sent', userId: user.id, mailId, ...originOf(device) });
}

/**
 * `POST /auth/email/verify/request` (signed in): mails a verification link, unless the address is
 * already verified. Limited per address and per IP like every mail request.
 */
export async function requestVerification(rc: RecoveryContext, auth: AuthInfo, device: DeviceInfo): Promise<Result<void, 'session_revoked' | 'too_many_requests'>> {
  const user = await liveUserById(rc, auth.userId);
  if (user === null) return fail('session_revoked');
  const admitted = await admitMailRequest(rc, user.email, device);
  if (!admitted.ok) return admitted;
  if (user.emailVerifiedAt === null) rc.background.run('email verification', () => sendVerification(rc, user, device));
  return ok(undefined);
}

/**
 * `POST /auth/email/verify/resend {email}` (signed out, e.g. after `403 email_not_verified`):
 * answers at once, the same for every address; an unverified account gets a new link.
 */
export async function resendVerification(rc: RecoveryContext, input: { readonly email: string }, device: DeviceInfo): Promise<Result<void, 'invalid_request' | 'too_many_requests'>> {
  const email = checkEmail(input.email);
  if (!email.ok) return invalid('email', email.reason);
  const admitted = await admitMailRequest(rc, email.value, device);
  if (!admitted.ok) return admitted;
  rc.background.run('email verification', async () => {
    const user = await liveUserByEmail(rc, email.value);
    if (user !== null && user.emailVerifiedAt === null) await sendVerification(rc, user, device);
  });
  return ok(undefined);
}

/** After a sign-up: a verification link, when mail leaves the machine (SMTP) or verification is required. */
export function verifyNewUser(rc: RecoveryContext, userId: string, device: DeviceInfo): void {
  if (!rc.mailer.delivers && !rc.settings.requireVerifiedEmail) return;
  rc.background.run('email verification', async () => {
    const user = await liveUserById(rc, userId);
    if (user !== null && user.emailVerifiedAt === null) await sendVerification(rc, user, device);
  });
}

/** Marks the user's current address verified (a no-op when it already is). */
export async function markVerified(rc: RecoveryContext, user: UserRecord): Promise<void> {
  if (user.emailVerifiedAt !== null) return;
  const now = rc.kit.clock.now();
  await rc.kit.stores.users.update(user.id, { emailVerifiedAt: now }, now);
  await rc.kit.dropCache(user.id);
}

/**
 * `POST /auth/email/verify {token}`: marks the address verified. `invalid_code` when the token is
 * unknown, used, expired or replaced, or the account's email changed since it was sent.
 */
export async function verifyEmail(rc: RecoveryContext, input: { readonly token: string }, device: DeviceInfo): Promise<Result<void, 'invalid_code'>> {
  const consumed = await rc.kit.oneTimeTokens.consume(verifyPurpose, input.token);
  if (consumed === null) return invalidCode();
  const user = await liveUserById(rc, consumed.userId);
  if (user === null || user.email !== (consumed.data as Partial<VerifyData> | null)?.email) return invalidCode();
  await markVerified(rc, user);
  rc.kit.emit({ type: 'recovery.email_verified', userId: user.id, ...originOf(device) });
  return ok(undefined);
}
