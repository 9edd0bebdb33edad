import { checkEmail } from '../../core/account-text.ts';
import type { DeviceInfo, IssuedTokens } from '../../core/context.ts';
import { fail, invalid, ok, type Result } from '../../core/errors.ts';
import type { SignInRefusal } from '../../core/feature.ts';
import { markVerified } from './email-verification.ts';
import { admitMailRequest, invalidCode, liveUserById, liveUserByEmail, mailLink, originOf, type RecoveryContext } from './recovery-context.ts';

/** The one-time-token purpose of sign-in links. */
export const magicLinkPurpose = 'magic_link';

/** How a sign-in by mailed link is recorded on the session and in its tokens' `amr`. */
export const emailAmr: readonly string[] = Object.freeze(['email']);

/**
 * `POST /auth/magic-link {email}`: answers at once, the same for every address; an account (not
 * disabled) gets a sign-in link, nobody else anything (no account is created). `not_found` while
 * sign-in links are off.
 */
export async function requestMagicLink(rc: RecoveryContext, input: { readonly email: string }, device: DeviceInfo): Promise<Result<void, 'invalid_request' | 'not_found' | 'too_many_requests'>> {
  if (!rc.settings.magicLink) return fail('not_found');
  const email = checkEmail(input.email);
  if (!email.ok) return invalid('email', email.reason);
  const admitted = await admitMailRequest(rc, email.value, device);
  if (!admitted.ok) return admitted;
  rc.background.run('sign-in link', async () => {
    const user = await liveUserByEmail(rc, email.value);
    if (user === null) return;
    const mailId = await mailLink(rc, { user, purpose: magicLinkPurpose, action: 'magic', kind: 'magic_link', to: user.email, ttlMs: rc.settings.magicLinkTtlMs, data: { email: user.email } });
    rc.kit.emit({ type: 'recovery.magic_link_sent', userId: user.id, mailId, ...originOf(device) });
  });
  return ok(undefined);
}

/**
 * `POST /auth/magic-link/verify {token}`: starts a session (`amr: ["email"]`) for the link's user.
 * Following the link proves the address, so it is marked verified; and it is a successful
 * sign-in, so the user's reset links stop working (recovery-feature.ts, on `session_started`). `invalid_code` for an unknown, used or expired
 * link, or when the account's address changed since it was sent.
 */
export async function verifyMagicLink(rc: RecoveryContext, input: { readonly token: string }, device: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_code' | 'not_found'> | SignInRefusal> {
  if (!rc.settings.magicLink) return fail('not_found');
  const consumed = await rc.kit.oneTimeTokens.consume(magicLinkPurpose, input.token);
  if (consumed === null) return invalidCode();
  const user = await liveUserById(rc, consumed.userId);
  if (user === null || user.email !== (consumed.data as { email?: unknown } | null)?.email) return invalidCode();
  await markVerified(rc, user);
  const fresh = (await rc.kit.stores.users.byId(user.id)) ?? user;
  // The sign-in gates apply as to a password sign-in: a user with a second factor is asked for it
  // (403 mfa_required; its challenge goes on with amr ["email"]).
  const refused = await rc.kit.checkSignIn({ user: fresh, amr: emailAmr, device });
  if (refused !== null) {
    rc.kit.emit({ type: 'login_refused', code: refused.code, userId: user.id, ...originOf(device) });
    return { ok: false, code: refused.code, details: refused.details ?? {} };
  }
  const issued = await rc.kit.startSession(fresh, emailAmr, device);
  if (issued === null) return invalidCode();
  rc.kit.emit({ type: 'recovery.magic_link_used', userId: user.id, sessionId: issued.session.id, ...originOf(device) });
  return ok(issued);
}
