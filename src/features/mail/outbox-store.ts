import { ConfigError } from '../../core/errors.ts';
import type { FeatureDatabase, SqlValue } from '../../core/feature.ts';
import { openSealed, sealedPrefix, sealValue } from '../../core/key-encryption.ts';

/** Where a mail is: waiting to be sent (or retried), sent, given up on, or kept for reading (no SMTP). */
export type MailState = 'pending' | 'sent' | 'failed' | 'outbox';

/** A mail as the outbox keeps it. Times in ms since the epoch. */
export interface OutboxMail {
  readonly id: string;
  readonly kind: string;
  readonly recipient: string;
  readonly subject: string;
  /** Null once cleared (sent, or its link expired). */
  readonly text: string | null;
  readonly html: string | null;
  readonly state: MailState;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  /** Why the last attempt failed (error code and server reply, never the body). */
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly sentAt: number | null;
  /** When the link in it stops working; its body is cleared then. */
  readonly expiresAt: number;
}

interface Row {
  id: string;
  kind: string;
  recipient: string;
  subject: string;
  body_text: string | null;
  body_html: string | null;
  state: MailState;
  attempts: number | string;
  next_attempt_at: number | string;
  last_error: string | null;
  created_at: number | string;
  sent_at: number | string | null;
  expires_at: number | string;
}

const columns = 'id, kind, recipient, subject, body_text, body_html, state, attempts, next_attempt_at, last_error, created_at, sent_at, expires_at';

/** What a body is sealed to: the mail and the part, so a sealed body cannot be moved to another row. */
const bodyLabel = (id: string, part: 'text' | 'html') => `mail:${id}:${part}`;

function mailOf(r: Row, open: (id: string, part: 'text' | 'html', body: string | null) => string | null): OutboxMail {
  return {
    id: r.id,
    kind: r.kind,
    recipient: r.recipient,
    subject: r.subject,
    text: open(r.id, 'text', r.body_text),
    html: open(r.id, 'html', r.body_html),
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    sentAt: r.sent_at === null ? null : Number(r.sent_at),
    expiresAt: Number(r.expires_at),
  };
}

/**
 * The outbox table through the feature database, with the same SQL on both dialects
 * (`$n` placeholders, numbered `?n` on SQLite). Claiming a mail is a compare-and-set on its
 * `next_attempt_at`, so of several instances sending from one database one wins each mail.
 *
 * With the key-encryption key, bodies (which hold live links) are sealed at rest (AES-256-GCM,
 * bound to the mail's id and part): a copy of the database, a backup or read access to the table
 * does not give the links away. Bodies written before the key was set are read as they are.
 */
export class OutboxStore {
  readonly #db: FeatureDatabase;
  readonly #key: Buffer | null;

  constructor(db: FeatureDatabase, keyEncryptionKey: Buffer | null = null) {
    this.#db = db;
    this.#key = keyEncryptionKey;
  }

  #seal(id: string, part: 'text' | 'html', body: string | null): string | null {
    return body === null || this.#key === null ? body : sealValue(this.#key, body, bodyLabel(id, part));
  }

  readonly #open = (id: string, part: 'text' | 'html', body: string | null): string | null => {
    if (body === null || !body.startsWith(sealedPrefix)) return body;
    if (this.#key === null) throw new ConfigError('the mail outbox is encrypted: set keyEncryptionKey (TOKENSTILE_KEY_ENCRYPTION_KEY) to read or send it');
    return openSealed(this.#key, body, bodyLabel(id, part));
  };

  #mail = (r: Row): OutboxMail => mailOf(r, this.#open);

  #sql(text: string): string {
    return this.#db.dialect === 'sqlite' ? text.replace(/\$(\d+)/g, '?$1') : text;
  }

  #query(text: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.#db.query<Row>(this.#sql(text), params);
  }

  #execute(text: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.#db.execute(this.#sql(text), params);
  }

  async insert(m: OutboxMail): Promise<void> {
    await this.#execute(
      `INSERT INTO mail_outbox (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [m.id, m.kind, m.recipient, m.subject, this.#seal(m.id, 'text', m.text), this.#seal(m.id, 'html', m.html), m.state, m.attempts, m.nextAttemptAt, m.lastError, m.createdAt, m.sentAt, m.expiresAt],
    );
  }

  async get(id: string): Promise<OutboxMail | null> {
    const [row] = await this.#query(`SELECT ${columns} FROM mail_outbox WHERE id = $1`, [id]);
    return row === undefined ? null : this.#mail(row);
  }

  /** Newest first; `before` pages (an id from the previous page). */
  async list(page: { readonly limit: number; readonly before?: string | undefined; readonly state?: MailState | undefined }): Promise<OutboxMail[]> {
    const rows = await this.#query(
      `SELECT ${columns} FROM mail_outbox WHERE ($1 = '' OR id < $1) AND ($2 = '' OR state = $2) ORDER BY id DESC LIMIT $3`,
      [page.before ?? '', page.state ?? '', page.limit],
    );
    return rows.map(this.#mail);
  }

  /** Pending mails due by `now`, oldest first. */
  async due(now: number, limit: number): Promise<OutboxMail[]> {
    const rows = await this.#query(`SELECT ${columns} FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`, [now, limit]);
    return rows.map(this.#mail);
  }

  /** Takes `mail` for one attempt until `leaseUntil`; false when another sender took it first. */
  async claim(mail: OutboxMail, leaseUntil: number): Promise<boolean> {
    const n = await this.#execute(
      `UPDATE mail_outbox SET next_attempt_at = $1, attempts = attempts + 1 WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3`,
      [leaseUntil, mail.id, mail.nextAttemptAt],
    );
    return n === 1;
  }

  /** Sent: the body (and the link in it) is cleared. */
  async markSent(id: string, now: number): Promise<void> {
    await this.#execute(`UPDATE mail_outbox SET state = 'sent', sent_at = $1, body_text = NULL, body_html = NULL, last_error = NULL WHERE id = $2`, [now, id]);
  }

  /** The attempt failed; another at `nextAttemptAt`. */
  async markRetry(id: string, nextAttemptAt: number, error: string): Promise<void> {
    await this.#execute(`UPDATE mail_outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3 AND state = 'pending'`, [nextAttemptAt, error, id]);
  }

  /** Given up: kept (without its body, whose link is of no use any more) with the last error. */
  async markFailed(id: string, error: string): Promise<void> {
    await this.#execute(`UPDATE mail_outbox SET state = 'failed', last_error = $1, body_text = NULL, body_html = NULL WHERE id = $2`, [error, id]);
  }

  /**
   * Clears the bodies of mails whose link has expired (read in the outbox, or never sent) and
   * deletes rows older than `keepUntil`. Returns how many rows changed.
   */
  async purge(now: number, deleteBefore: number): Promise<number> {
    const cleared = await this.#execute(`UPDATE mail_outbox SET body_text = NULL, body_html = NULL WHERE expires_at <= $1 AND body_text IS NOT NULL`, [now]);
    const deleted = await this.#execute(`DELETE FROM mail_outbox WHERE created_at < $1 AND state <> 'pending'`, [deleteBefore]);
    return cleared + deleted;
  }
}
