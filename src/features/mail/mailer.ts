import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/config.ts';
import { uuidv7, type RandomSource } from '../../core/ids.ts';
import { describeSendError, type MailTransport } from './mail-transport.ts';
import { durationWords, type MailKind, type MailTemplates, type MailValues } from './mail-templates.ts';
import type { OutboxMail, OutboxStore } from './outbox-store.ts';

/** What the mailer reports (metrics): a mail queued, sent, retried or given up on. */
export type MailEvent =
  | { readonly type: 'mail_queued'; readonly kind: string; readonly delivery: 'smtp' | 'outbox' }
  | { readonly type: 'mail_sent'; readonly kind: string; readonly seconds: number }
  | { readonly type: 'mail_failed'; readonly kind: string; readonly final: boolean };

export interface MailerOptions {
  readonly store: OutboxStore;
  /** Null: no SMTP; mails stay in the outbox (state `outbox`) for `tokenstile mail show`. */
  readonly transport: MailTransport | null;
  readonly templates: MailTemplates;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger?: Logger | undefined;
  readonly onEvent?: ((event: MailEvent) => void) | undefined;
  /**
   * Attempts before a mail is given up on. Default 50: in practice a mail is retried for as long
   * as its link works (a 24-hour verification link through a day-long outage), and given up on
   * only when the next attempt would come after its link expired.
   */
  readonly maxAttempts?: number;
  /** The first retry's delay, doubling per attempt up to an hour. Default 30 s. */
  readonly retryBaseMs?: number;
  /** How long an attempt holds its claim on a mail (more than the transport's timeout). Default 60 s. */
  readonly claimMs?: number;
  /** How often the outbox is looked at for retries due. Default 5 s. */
  readonly pollMs?: number;
}

/** The delay before attempt `attempts + 1`: `base` doubling per attempt, at most an hour. */
export function retryDelayMs(attempts: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

/**
 * Queues mails in the outbox and delivers them in the background: a request that sends a mail
 * waits for one insert, never for SMTP. Failed attempts are retried with exponential backoff while
 * the mail's link still works; then (or after `maxAttempts`) it is kept as `failed` with the last error (logged, counted, and shown by
 * `tokenstile mail list`). One line is logged per mail, naming its id and kind, never its link.
 */
export class Mailer {
  readonly #o: MailerOptions;
  readonly #maxAttempts: number;
  readonly #retryBaseMs: number;
  readonly #claimMs: number;
  #running: Promise<void> | null = null;
  #again = false;
  #closed = false;
  readonly #timer: NodeJS.Timeout | null;

  constructor(options: MailerOptions) {
    this.#o = options;
    this.#maxAttempts = options.maxAttempts ?? 50;
    this.#retryBaseMs = options.retryBaseMs ?? 30_000;
    this.#claimMs = options.claimMs ?? 60_000;
    this.#timer = options.transport === null ? null : setInterval(() => this.kick(), options.pollMs ?? 5000);
    this.#timer?.unref();
  }

  /** True when mails go out by SMTP; false when they stay in the outbox. */
  get delivers(): boolean {
    return this.#o.transport !== null;
  }

  /**
   * Renders and stores a mail of `kind` to `to`, whose link works for `linkTtlMs`, and starts
   * delivery without waiting for it. Returns the mail's id.
   */
  async enqueue(kind: MailKind, to: string, values: Omit<MailValues, 'expiresIn'>, linkTtlMs: number): Promise<string> {
    const now = this.#o.clock.now();
    const { subject, text, html } = this.#o.templates.render(kind, { ...values, expiresIn: durationWords(linkTtlMs) });
    const smtp = this.delivers;
    const mail: OutboxMail = {
      id: uuidv7(now, this.#o.random),
      kind,
      recipient: to,
      subject,
      text,
      html,
      state: smtp ? 'pending' : 'outbox',
      attempts: 0,
      nextAttemptAt: now,
      lastError: null,
      createdAt: now,
      sentAt: null,
      expiresAt: now + linkTtlMs,
    };
    await this.#o.store.insert(mail);
    this.#emit({ type: 'mail_queued', kind, delivery: smtp ? 'smtp' : 'outbox' });
    this.#o.logger?.info(
      { mailId: mail.id, kind, delivery: smtp ? 'smtp' : 'outbox' },
      smtp ? 'tokenstile: mail queued for SMTP delivery' : 'tokenstile: mail kept in the outbox (no SMTP configured); read it with tokenstile mail show ID',
    );
    if (smtp) this.kick();
    return mail.id;
  }

  /** Starts a delivery round unless one is under way (which then goes round once more). */
  kick(): void {
    if (this.#closed || this.#o.transport === null) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain()
      .catch((err: unknown) => this.#o.logger?.warn({ err: { message: (err as Error)?.message } }, 'tokenstile: reading the mail outbox failed'))
      .finally(() => {
        this.#running = null;
      });
  }

  /** Delivers every mail due now and resolves when done (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    this.kick();
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false;
      for (;;) {
        const due = await this.#o.store.due(this.#o.clock.now(), 20);
        if (due.length === 0 || this.#closed) break;
        for (const mail of due) await this.#attempt(mail);
      }
    } while (this.#again && !this.#closed);
  }

  async #attempt(mail: OutboxMail): Promise<void> {
    const { store, clock, logger } = this.#o;
    const started = clock.now();
    if (mail.expiresAt <= started) {
      await store.markFailed(mail.id, 'its link expired before it could be sent');
      logger?.warn({ mailId: mail.id, kind: mail.kind }, 'tokenstile: mail given up: its link expired before it could be sent');
      this.#emit({ type: 'mail_failed', kind: mail.kind, final: true });
      return;
    }
    if (!(await store.claim(mail, started + this.#claimMs))) return;
    const attempt = mail.attempts + 1;
    const t0 = performance.now();
    try {
      await this.#o.transport!.send({ to: mail.recipient, subject: mail.subject, text: mail.text ?? '', html: mail.html ?? '' });
    } catch (err) {
      const error = describeSendError(err);
      const next = clock.now() + retryDelayMs(attempt, this.#retryBaseMs);
      const final = attempt >= this.#maxAttempts || next >= mail.expiresAt;
      if (final) await store.markFailed(mail.id, error);
      else await store.markRetry(mail.id, next, error);
      logger?.warn({ mailId: mail.id, kind: mail.kind, attempt, error }, final ? 'tokenstile: mail delivery failed; given up' : 'tokenstile: mail delivery failed; will retry');
      this.#emit({ type: 'mail_failed', kind: mail.kind, final });
      return;
    }
    await store.markSent(mail.id, clock.now());
    logger?.info({ mailId: mail.id, kind: mail.kind, attempt }, 'tokenstile: mail sent by SMTP');
    this.#emit({ type: 'mail_sent', kind: mail.kind, seconds: (performance.now() - t0) / 1000 });
  }

  #emit(event: MailEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch {
      // An observer's failure must not fail a mail.
    }
  }

  /** Stops the timer and waits for the round under way; mails not yet sent stay in the outbox for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
    this.#o.transport?.close();
  }
}
