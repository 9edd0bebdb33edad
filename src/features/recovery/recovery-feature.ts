import type { AuthInfo } from '../../core/auth-info.ts';
import type { DeviceInfo, IssuedTokens } from '../../core/context.ts';
import type { Result } from '../../core/errors.ts';
import type { CoreFeature, FeatureKit, SignInRefusal } from '../../core/feature.ts';
import { mailMigrations } from '../mail/mail-migrations.ts';
import { MailTemplates } from '../mail/mail-templates.ts';
import { smtpTransport } from '../mail/mail-transport.ts';
import { Mailer } from '../mail/mailer.ts';
import { OutboxStore } from '../mail/outbox-store.ts';
import { enableUser, setPassword, verifyEmailOf } from './account-admin.ts';
import { confirmEmailChange, requestEmailChange } from './email-change.ts';
import { requestVerification, resendVerification, verifyEmail, verifyNewUser } from './email-verification.ts';
import { requestMagicLink, verifyMagicLink } from './magic-link.ts';
import { forgotPassword, resetPassword, voidResetLinks } from './password-reset.ts';
import { BackgroundWork, type RecoveryContext } from './recovery-context.ts';
import { resolveRecoveryOptions, type RecoveryOptions, type RecoverySettings } from './recovery-options.ts';

/** What the recovery feature offers (`featureApi(core, recoveryFeature)`); the routes call these. */
export interface RecoveryApi {
  readonly settings: RecoverySettings;
  /** The mail outbox (`tokenstile mail list|show`). */
  readonly outbox: OutboxStore;
  readonly mailer: Mailer;
  forgotPassword(input: { email: string }, device?: DeviceInfo): Promise<Result<void, 'invalid_request' | 'too_many_requests'>>;
  resetPassword(input: { token: string; newPassword: string }, device?: DeviceInfo): Promise<Result<void, 'weak_password' | 'invalid_code'>>;
  requestVerification(auth: AuthInfo, device?: DeviceInfo): Promise<Result<void, 'session_revoked' | 'too_many_requests'>>;
  resendVerification(input: { email: string }, device?: DeviceInfo): Promise<Result<void, 'invalid_request' | 'too_many_requests'>>;
  verifyEmail(input: { token: string }, device?: DeviceInfo): Promise<Result<void, 'invalid_code'>>;
  requestEmailChange(auth: AuthInfo, input: { newEmail: string; password?: string }, device?: DeviceInfo): Promise<Result<void, 'invalid_request' | 'invalid_credentials' | 'session_revoked' | 'too_many_requests' | 'reauthentication_required'>>;
  confirmEmailChange(input: { token: string }, device?: DeviceInfo): Promise<Result<void, 'invalid_code' | 'email_taken'>>;
  requestMagicLink(input: { email: string }, device?: DeviceInfo): Promise<Result<void, 'invalid_request' | 'not_found' | 'too_many_requests'>>;
  verifyMagicLink(input: { token: string }, device?: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_code' | 'not_found'> | SignInRefusal>;
  /** Administrative: sets a user's password (the policy applies) and ends every session of the user. */
  setPassword(userId: string, password: string): Promise<Result<void, 'not_found' | 'weak_password'>>;
  /** Administrative: marks the user's address verified. */
  verifyEmailOf(userId: string): Promise<Result<void, 'not_found'>>;
  /** Administrative: lets a disabled account sign in again. */
  enableUser(userId: string): Promise<Result<void, 'not_found'>>;
  /** Waits for the work started after answers (lookups, tokens, queued mail) and sends what is due. */
  settle(): Promise<void>;
}

/** How long sent and failed mails stay listed in the outbox (their bodies go as soon as they are sent). */
const outboxRetentionMs = 30 * 24 * 3_600_000;

function setUp(kit: FeatureKit, options: RecoveryOptions | undefined): RecoveryApi {
  const settings = resolveRecoveryOptions(options, kit.config.issuer);
  const outbox = new OutboxStore(kit.db, kit.keyEncryptionKey);
  const transport = settings.mailTransport ?? (settings.smtpUrl === null ? null : smtpTransport({ url: settings.smtpUrl, from: settings.mailFrom, timeoutMs: settings.smtpTimeoutMs }));
  const mailer = new Mailer({
    store: outbox,
    transport,
    templates: new MailTemplates(settings.mailTemplates),
    clock: kit.clock,
    random: kit.random,
    logger: kit.logger,
    onEvent: (e) => kit.emit({ ...e, type: `mail.${e.type.slice('mail_'.length)}` }),
  });
  const background = new BackgroundWork((obj, msg) => kit.logger?.warn(obj, msg));
  const rc: RecoveryContext = { kit, settings, mailer, background };
  kit.addSignInGate(async ({ user }) => (settings.requireVerifiedEmail && user.emailVerifiedAt === null ? { code: 'email_not_verified' } : null));
  // A successful sign-in, by any method, shows the user is in: their reset links are no longer
  // needed. Every started session is reported: `login_succeeded` (password), `session_started`
  // (second factor, passkey, link, provider, host app). Started at once, never dropped.
  const voiding = new Set<Promise<void>>();
  kit.onEvent((event) => {
    if (event.type === 'registered') verifyNewUser(rc, event.userId, { ip: event.ip ?? null, userAgent: event.userAgent ?? null });
    if (event.type !== 'session_started' && event.type !== 'login_succeeded') return;
    const p: Promise<void> = voidResetLinks(rc, event.userId)
      .catch((err: unknown) => kit.logger?.warn({ err: { message: (err as Error)?.message } }, 'tokenstile: voiding reset links failed'))
      .finally(() => voiding.delete(p));
    voiding.add(p);
  });
  kit.addPurge((now) => outbox.purge(now, now - outboxRetentionMs));
  kit.onClose(async () => {
    await background.idle();
    await mailer.close();
  });
  return {
    settings,
    outbox,
    mailer,
    forgotPassword: (input, device = {}) => forgotPassword(rc, input, device),
    resetPassword: (input, device = {}) => resetPassword(rc, input, device),
    requestVerification: (auth, device = {}) => requestVerification(rc, auth, device),
    resendVerification: (input, device = {}) => resendVerification(rc, input, device),
    verifyEmail: (input, device = {}) => verifyEmail(rc, input, device),
    requestEmailChange: (auth, input, device = {}) => requestEmailChange(rc, auth, input, device),
    confirmEmailChange: (input, device = {}) => confirmEmailChange(rc, input, device),
    requestMagicLink: (input, device = {}) => requestMagicLink(rc, input, device),
    verifyMagicLink: (input, device = {}) => verifyMagicLink(rc, input, device),
    setPassword: (userId, password) => setPassword(rc, userId, password),
    verifyEmailOf: (userId) => verifyEmailOf(rc, userId),
    enableUser: (userId) => enableUser(rc, userId),
    async settle() {
      while (voiding.size > 0) await Promise.all([...voiding]);
      await background.idle();
      await mailer.flush();
    },
  };
}

/**
 * Account recovery and email: password reset, email verification (and the
 * `requireVerifiedEmail` sign-in gate), change of email, sign-in links, and the mail outbox they
 * send through. Its options are `TokenstileOptions.recovery`.
 */
export const recoveryFeature: CoreFeature<RecoveryApi> = {
  name: 'recovery',
  migrations: mailMigrations,
  setup: (kit) => setUp(kit, kit.options.recovery as RecoveryOptions | undefined),
};
