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
 * Checks `TOKENSTILE_SMTP_URL`: `smtps://` (TLS from the start) or `smtp://` (STARTTLS, required
 * unless the host is this machine), credentials in the URL (`smtp://user:pass@host:587`). The
 * only query parameter is `starttls=optional`, for a relay on a private network without TLS.
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
  for (const [name, value] of parsed.searchParams) {
    if (name !== 'starttls' || value !== 'optional' || parsed.protocol !== 'smtp:') throw new ConfigError('smtpUrl: the only parameter is ?starttls=optional, on smtp:// URLs');
  }
  return parsed;
}

/** 127.0.0.0/8, ::1 and localhost: a relay on this machine, where the wire does not leave it. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * nodemailer's settings for `url`. Certificates are always verified (TLS 1.2 at least). On
 * `smtp://`, STARTTLS is required (`requireTLS`): a server, or a man in the middle, that does not
 * offer it fails the delivery instead of receiving the credentials and the links in the clear;
 * except to a loopback host, or with `?starttls=optional` (then used when offered).
 */
export function smtpSettings(url: URL, timeoutMs: number) {
  const secure = url.protocol === 'smtps:';
  const requireTLS = !secure && !isLoopback(url.hostname) && url.searchParams.get('starttls') !== 'optional';
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    requireTLS,
    tls: { minVersion: 'TLSv1.2', rejectUnauthorized: true },
    ...(url.username !== '' && { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  } as const;
}

/**
 * SMTP through nodemailer, one pooled connection at a time. Every stage (connect, greeting,
 * each command) is bounded by `timeoutMs`, and the whole delivery by the same bound again, so a
 * server that accepts the connection and then stalls fails the attempt instead of holding it.
 */
export function smtpTransport(options: { readonly url: string; readonly from: string; readonly timeoutMs?: number }): MailTransport {
  const timeoutMs = options.timeoutMs ?? defaultSendTimeoutMs;
  const settings = smtpSettings(checkSmtpUrl(options.url), timeoutMs);
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
