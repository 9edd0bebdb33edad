import type { Duration } from '../../core/duration.ts';
import { parseDuration } from '../../core/duration.ts';
import { ConfigError } from '../../core/errors.ts';
import { checkSmtpUrl, type MailTransport } from '../mail/mail-transport.ts';

/** Options of account recovery and email (`TokenstileOptions.recovery`); every field has a default. */
export interface RecoveryOptions {
  /**
   * `smtp://user:password@host:587` (STARTTLS required, except to a loopback host or with
   * `?starttls=optional`) or `smtps://…:465`. Default: none, and
   * mails are kept in the database outbox (`tokenstile mail list|show`).
   */
  readonly smtpUrl?: string;
  /** The `From` of every mail. Default `no-reply@` the issuer's host. */
  readonly mailFrom?: string;
  /**
   * The page the links in mails open, with the token in its fragment (`#reset=tso_…`), which
   * browsers never send to a server or in a Referer. Default: the issuer's `/account` page.
   */
  readonly appUrl?: string;
  /** A folder of templates replacing the built-in ones (`password_reset.txt`…; see docs/recovery.md). */
  readonly mailTemplates?: string;
  /** Refuse sign-in with `403 email_not_verified` until the email is verified. Default false. */
  readonly requireVerifiedEmail?: boolean;
  /** Offer sign-in links by mail (`POST /auth/magic-link`). Default false. */
  readonly magicLink?: boolean;
  /** How long a password-reset link works. Default `30m`. */
  readonly passwordResetTtl?: Duration;
  /** How long an email-verification link works. Default `24h`. */
  readonly emailVerificationTtl?: Duration;
  /** How long the link confirming a new email works. Default `1h`. */
  readonly emailChangeTtl?: Duration;
  /** How long a sign-in link works. Default `15m`. */
  readonly magicLinkTtl?: Duration;
  /** How long one SMTP delivery may take. Default `10s`. */
  readonly smtpTimeout?: Duration;
  /** Delivers mail instead of SMTP (an embedder's own mail service). */
  readonly mailTransport?: MailTransport;
}

/** Checked settings; durations in ms. */
export interface RecoverySettings {
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  readonly appUrl: string;
  readonly mailTemplates: string | undefined;
  readonly requireVerifiedEmail: boolean;
  readonly magicLink: boolean;
  readonly passwordResetTtlMs: number;
  readonly emailVerificationTtlMs: number;
  readonly emailChangeTtlMs: number;
  readonly magicLinkTtlMs: number;
  readonly smtpTimeoutMs: number;
  readonly mailTransport: MailTransport | undefined;
}

function ttl(value: Duration | undefined, fallback: string, name: string, minMs: number, maxMs: number): number {
  const ms = Math.round(parseDuration(value ?? fallback, name) * 1000);
  if (ms < minMs || ms > maxMs) throw new ConfigError(`${name} must be between ${minMs / 1000}s and ${maxMs / 1000}s, got ${JSON.stringify(value)}`);
  return ms;
}

const minute = 60_000;
const day = 24 * 60 * minute;

/** Validates the options once at startup (messages name the option), with the issuer for defaults. */
export function resolveRecoveryOptions(options: RecoveryOptions = {}, issuer: string): RecoverySettings {
  const smtpUrl = options.smtpUrl === undefined || options.smtpUrl === '' ? null : options.smtpUrl;
  if (smtpUrl !== null) checkSmtpUrl(smtpUrl);
  const appUrl = options.appUrl ?? `${issuer.replace(/\/+$/, '')}/account`;
  let parsed: URL;
  try {
    parsed = new URL(appUrl);
  } catch {
    throw new ConfigError(`appUrl must be an absolute URL, got ${JSON.stringify(appUrl)}`);
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.hash !== '') throw new ConfigError('appUrl must be an http(s) URL without a #fragment (the token goes there)');
  const host = new URL(issuer).hostname;
  const mailFrom = options.mailFrom ?? `no-reply@${/^[\d.]+$|:/.test(host) ? 'localhost' : host}`;
  if (/[\r\n]/.test(mailFrom) || !mailFrom.includes('@')) throw new ConfigError('mailFrom must be an address such as "Example <no-reply@example.com>"');
  return Object.freeze({
    smtpUrl,
    mailFrom,
    appUrl,
    mailTemplates: options.mailTemplates,
    requireVerifiedEmail: options.requireVerifiedEmail === true,
    magicLink: options.magicLink === true,
    passwordResetTtlMs: ttl(options.passwordResetTtl, '30m', 'passwordResetTtl', minute, day),
    emailVerificationTtlMs: ttl(options.emailVerificationTtl, '24h', 'emailVerificationTtl', minute, 30 * day),
    emailChangeTtlMs: ttl(options.emailChangeTtl, '1h', 'emailChangeTtl', minute, 7 * day),
    magicLinkTtlMs: ttl(options.magicLinkTtl, '15m', 'magicLinkTtl', minute, day),
    smtpTimeoutMs: ttl(options.smtpTimeout, '10s', 'smtpTimeout', 1000, 120_000),
    mailTransport: options.mailTransport,
  });
}

/** What a link in a mail does: the page reads the fragment's name to know which form to show. */
export type LinkAction = 'reset' | 'verify' | 'email-change' | 'magic';

/** The link for `action` with `token` in the fragment. */
export function linkFor(settings: RecoverySettings, action: LinkAction, token: string): string {
  return `${settings.appUrl}#${action}=${token}`;
}
