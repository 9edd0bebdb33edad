import { featureApi } from '../core/feature.ts';
import { isUuidv7 } from '../core/ids.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { OutboxMail } from '../features/mail/outbox-store.ts';
import { recoveryFeature } from '../features/recovery/recovery-feature.ts';
import { CliError, type CliIo } from './admin-commands.ts';
import type { CommandSpec } from './cli-help.ts';
import { escaped, jsonLine, quoted } from './terminal-text.ts';

/** `tokenstile mail …`: the outbox. */
export const mailGroup: { readonly summary: string; readonly subcommands: Readonly<Record<string, CommandSpec>>; readonly footer?: string } = {
  summary: 'read the mail outbox (reset, verification and sign-in links)',
  subcommands: {
    list: {
      usage: 'tokenstile mail list [--limit N] [--after MAIL_ID] [--json]',
      about: [
        'every mail, newest first (default 50, at most 1000): its state (outbox: kept here, no SMTP',
        'configured; pending: to be sent or retried; sent; failed: given up, with the last error),',
        'kind, recipient and attempts; the last line says how to get the next page',
      ],
      options: ['limit', 'after', 'json'],
    },
    show: {
      usage: 'tokenstile mail show MAIL_ID [--json]',
      about: [
        'one mail with its text body, which holds a live link (a token) until the mail is sent or',
        'its link expires; then only the record of it is left. Treat the output as a secret.',
      ],
      options: ['json'],
      arguments: 1,
    },
  },
  footer: 'With no TOKENSTILE_SMTP_URL, mails stay in the outbox for you to read and pass on.',
};

/** How many mails `mail list` shows per page without `--limit`. */
export const defaultMailPage = 50;

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/** A mail without its bodies, for listings. */
function summary(m: OutboxMail) {
  return {
    id: m.id,
    state: m.state,
    kind: m.kind,
    to: m.recipient,
    subject: m.subject,
    attempts: m.attempts,
    createdAt: when(m.createdAt),
    sentAt: m.sentAt === null ? null : when(m.sentAt),
    linkExpiresAt: when(m.expiresAt),
    lastError: m.lastError,
    hasBody: m.text !== null,
  };
}

/** `mail list`: the outbox, newest first, a page at a time. */
export async function mailList(core: Tokenstile, io: CliIo, o: { limit: number; after?: string | undefined; json: boolean }): Promise<void> {
  if (o.after !== undefined && !isUuidv7(o.after)) throw new CliError(`--after must be a mail id, got ${JSON.stringify(o.after)}`);
  const found = await featureApi(core, recoveryFeature).outbox.list({ limit: o.limit + 1, before: o.after });
  const page = found.slice(0, o.limit).map(summary);
  const next = found.length > o.limit ? page.at(-1)!.id : null;
  if (o.json) return io.out(jsonLine({ mails: page, next }));
  if (page.length === 0) return io.out(o.after === undefined ? 'the outbox is empty' : `no mails after ${o.after}`);
  for (const m of page) {
    const error = m.lastError === null ? '' : `  last error ${quoted(m.lastError)}`;
    io.out(`${m.id}  ${m.state.padEnd(7)}  ${m.kind.padEnd(20)}  to ${escaped(m.to)}  ${m.createdAt}  attempts ${m.attempts}${error}`);
  }
  if (next !== null) io.out(`more: tokenstile mail list --after ${next}${o.limit === defaultMailPage ? '' : ` --limit ${o.limit}`}`);
}

/** `mail show ID`: one mail, with its text body while it has one. */
export async function mailShow(core: Tokenstile, io: CliIo, o: { id: string; json: boolean }): Promise<void> {
  if (!isUuidv7(o.id)) throw new CliError(`${JSON.stringify(o.id)} is not a mail id (tokenstile mail list shows them)`);
  const mail = await featureApi(core, recoveryFeature).outbox.get(o.id);
  if (mail === null) throw new CliError(`no mail ${o.id}`);
  if (o.json) return io.out(jsonLine({ ...summary(mail), text: mail.text, html: mail.html }));
  const s = summary(mail);
  io.out(`Mail ${s.id} (${s.state}, ${s.kind}, attempts ${s.attempts})`);
  io.out(`To: ${escaped(s.to)}`);
  io.out(`Subject: ${escaped(s.subject)}`);
  io.out(`Created: ${s.createdAt}   Sent: ${s.sentAt ?? '-'}   Link expires: ${s.linkExpiresAt}`);
  if (s.lastError !== null) io.out(`Last error: ${quoted(s.lastError)}`);
  io.out('');
  io.out(mail.text === null ? '(body cleared: the mail was sent, given up, or its link expired)' : escaped(mail.text).replaceAll('\\u000a', '\n'));
}
