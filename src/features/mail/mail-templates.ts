import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.ts';

/** The mails Tokenstile sends. */
export const mailKinds = ['password_reset', 'verify_email', 'email_change_confirm', 'email_change_notice', 'magic_link'] as const;
export type MailKind = (typeof mailKinds)[number];

/** What a template may use: `{{link}}`, `{{email}}`, `{{newEmail}}`, `{{expiresIn}}`, `{{site}}`. */
export interface MailValues {
  readonly link?: string;
  readonly email: string;
  readonly newEmail?: string;
  /** How long the link works, in words (`30 minutes`). */
  readonly expiresIn?: string;
  /** The host the account page is on (`auth.example.com`). */
  readonly site: string;
}

/** A template: its subject line and text body; the HTML body is made from the text unless given. */
export interface MailTemplate {
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

const builtIn: Record<MailKind, MailTemplate> = {
  password_reset: {
    subject: 'Reset your password',
    text: 'Someone (hopefully you) asked to reset the password of {{email}} on {{site}}.\n\nChoose a new password here:\n{{link}}\n\nThe link works once, for {{expiresIn}}. Using it signs your account out on every device.\nIf you did not ask for this, ignore this mail: your password stays as it is.',
  },
  verify_email: {
    subject: 'Confirm your email address',
    text: 'Confirm that {{email}} is your address on {{site}}:\n{{link}}\n\nThe link works once, for {{expiresIn}}. If you did not create an account, ignore this mail.',
  },
  email_change_confirm: {
    subject: 'Confirm your new email address',
    text: 'Someone (hopefully you) asked to change the email of an account on {{site}} from {{email}} to {{newEmail}}.\n\nConfirm the change here:\n{{link}}\n\nThe link works once, for {{expiresIn}}. If you did not ask for this, ignore this mail.',
  },
  email_change_notice: {
    subject: 'Your email address is being changed',
    text: 'Someone asked to change the email of your account on {{site}} from {{email}} to {{newEmail}}. The change happens once the new address is confirmed.\n\nIf this was not you, reset your password now and sign out your other devices.',
  },
  magic_link: {
    subject: 'Your sign-in link',
    text: 'Sign in to {{site}} as {{email}}:\n{{link}}\n\nThe link works once, for {{expiresIn}}. If you did not ask for it, ignore this mail.',
  },
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fill(template: string, values: MailValues, escape: (s: string) => string): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const v = (values as unknown as Record<string, string | undefined>)[name];
    return v === undefined ? whole : escape(v);
  });
}

/** Text as simple HTML: paragraphs, and the link (the only URL a mail holds) as an anchor. */
function htmlOf(text: string, values: MailValues): string {
  const paragraphs = text.split(/\n{2,}/).map((p) => {
    const lines = p.split('\n').map((line) => (values.link !== undefined && line.trim() === '{{link}}' ? `<a href="${escapeHtml(values.link)}">${escapeHtml(values.link)}</a>` : fill(escapeHtml(line), values, escapeHtml)));
    return `<p>${lines.join('<br>')}</p>`;
  });
  return `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">${paragraphs.join('\n')}</body></html>`;
}

/** The templates in use: the built-in ones, each replaced by the operator's where a file exists. */
export class MailTemplates {
  readonly #templates: Record<MailKind, MailTemplate>;

  /**
   * Reads overrides from `dir` once: `<kind>.txt` (first line `Subject: …`, a blank line, then the
   * text body) and optionally `<kind>.html`. A malformed file fails at startup.
   */
  constructor(dir?: string) {
    this.#templates = { ...builtIn };
    if (dir === undefined) return;
    if (!existsSync(dir)) throw new ConfigError(`mailTemplates: no such folder ${JSON.stringify(dir)}`);
    for (const kind of mailKinds) {
      const txt = join(dir, `${kind}.txt`);
      if (!existsSync(txt)) continue;
      const match = /^Subject: *(.+)\r?\n\r?\n([\s\S]+)$/.exec(readFileSync(txt, 'utf8'));
      if (!match) throw new ConfigError(`mailTemplates: ${kind}.txt must start with "Subject: …" and a blank line`);
      const html = join(dir, `${kind}.html`);
      this.#templates[kind] = { subject: match[1]!.trim(), text: match[2]!, ...(existsSync(html) && { html: readFileSync(html, 'utf8') }) };
    }
  }

  /** The subject, text and HTML of a mail of `kind` with `values` filled in (HTML-escaped in the HTML body). */
  render(kind: MailKind, values: MailValues): { subject: string; text: string; html: string } {
    const t = this.#templates[kind];
    return {
      subject: fill(t.subject, values, (s) => s.replace(/[\r\n]/g, ' ')),
      text: fill(t.text, values, (s) => s),
      html: t.html !== undefined ? fill(t.html, values, escapeHtml) : htmlOf(t.text, values),
    };
  }
}

/** A duration in words for mails: `30 minutes`, `1 hour`, `2 days`. */
export function durationWords(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute']];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) {
      const n = ms / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  const minutes = Math.max(1, Math.round(ms / 60_000));
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
