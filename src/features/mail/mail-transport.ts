import type { Transporter } from 'nodemailer';
import { ConfigError } from '../../core/errors.ts';

/** One mail as it is handed to a transport. */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Delivers mail. `send` resolves when the server accepted it, and rejects within the transport's bound otherwise. */
export interface MailTransport {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/** How long one SMTP delivery may take, connection and greeting included, by default. */
export const defaultSendTimeoutMs = 10_000;

/**
 * Checks `TOKENSTILE_SMTP_URL`: `smtp://` (STARTTLS when the server offers it) or `smtps://`
 * (TLS from the start), credentials in the URL (`smtp://user:pass@host:587`).
 */
export function checkSmtpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('smtpUrl must be a URL such as smtp://user:password@mail.example.com:587');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') throw new ConfigError(`smtpUrl must start with smtp:// or smtps://, got ${parsed.protocol}//`);
  if (parsed.hostname === '') throw new ConfigError('smtpUrl must name a host');
  return parsed;
}

/**
 * SMTP through nodemailer, one pooled connection at a time. Every stage (connect, greeting,
 * each command) is bounded by `timeoutMs`, and the whole delivery by the same bound again, so a
 * server that accepts the connection and then stalls fails the attempt instead of holding it.
 */
export function smtpTransport(options: { readonly url: string; readonly from: string; readonly timeoutMs?: number }): MailTransport {
  const url = checkSmtpUrl(options.url);
  const timeoutMs = options.timeoutMs ?? defaultSendTimeoutMs;
  const secure = url.protocol === 'smtps:';
  const settings = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    ...(url.username !== '' && { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  // nodemailer is loaded at the first mail: importing Tokenstile, or running without SMTP, never loads it.
  let transport: Promise<Transporter> | undefined;
  const open = () =>
    (transport ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(settings, { from: options.from })));
  return {
    async send(message) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`no answer from the SMTP server within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      });
      try {
        await Promise.race([(await open()).sendMail({ to: message.to, subject: message.subject, text: message.text, html: message.html }), deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => void transport?.then((t) => t.close(), () => {}),
  };
}

/**
 * What is kept and logged of a failed delivery: the error's code, the server's reply code and
 * the first line of its message, at most 200 characters. Messages never hold the mail's body
 * (where the link is); the URL's credentials are never part of nodemailer's errors.
 */
export function describeSendError(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; message?: unknown };
  const parts = [typeof e?.code === 'string' ? e.code : null, typeof e?.responseCode === 'number' ? `SMTP ${e.responseCode}` : null];
  const first = typeof e?.message === 'string' ? e.message.split('\n')[0]!.replace(/[\p{Cc}]/gu, ' ').slice(0, 200) : String(err).slice(0, 200);
  return [...parts.filter((p) => p !== null), first].join(': ');
}
