import type { AuthEvent } from './events.ts';

/** One line of the audit trail. Times in ms since the epoch. */
export interface AuditEntry {
  /** Assigned by the store, increasing. */
  readonly seq?: number;
  readonly at: number;
  readonly type: string;
  readonly userId: string | null;
  readonly sessionId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** Anything else about the event (a scope, a reason, a key id): never a secret. */
  readonly detail: Readonly<Record<string, string>>;
}

/**
 * Durable, append-only storage of audit entries. Best effort by design: entries are written after
 * the operation they describe, outside its transaction, so an audit outage never fails a login.
 * `seq` orders entries as they were appended; one `append` keeps its entries' order.
 */
export interface AuditLog {
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** Entries of a user (or all), newest first, at most `limit`, older than `beforeSeq` when given. */
  query(filter: { userId?: string; limit: number; beforeSeq?: number }): Promise<AuditEntry[]>;
  /** Deletes entries older than `before`; returns how many went. */
  purge(before: number): Promise<number>;
}

const audited = new Set<AuthEvent['type']>([
  'login_succeeded', 'login_failed', 'login_refused', 'password_change_failed', 'registered', 'user_created', 'session_started', 'refresh_reuse_detected', 'refresh_grace_retry', 'logged_out',
  'session_revoked', 'password_changed', 'user_disabled', 'key_generated', 'key_rotated', 'key_revoked',
]);

/** The audit entry for an event, or null for events that are metrics only (refreshes, feed health…). */
export function auditEntryOf(event: AuthEvent, at: number): AuditEntry | null {
  // Features' events (`<feature>.<event>`) are all audited.
  if (!audited.has(event.type) && !event.type.includes('.')) return null;
  const { type, ...rest } = event as AuthEvent & Record<string, unknown>;
  const pick = (name: string) => (typeof rest[name] === 'string' && (rest[name] as string).length > 0 ? (rest[name] as string).slice(0, 512) : null);
  const detail: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (['userId', 'sessionId', 'ip', 'userAgent'].includes(k) || v === undefined || v === null) continue;
    detail[k] = String(v).slice(0, 256);
  }
  return { at, type, userId: pick('userId'), sessionId: pick('sessionId'), ip: pick('ip'), userAgent: pick('userAgent'), detail };
}

/** Most entries held while the store is slow or down; more are dropped (and counted in a warning). */
const maxQueued = 10_000;

/**
 * Collects audit entries and writes them in order, in batches, on the next turn of the event loop:
 * never on a request's path, one insert for a burst (a global logout of many sessions), bounded
 * memory when the store is down.
 */
export class AuditQueue {
  readonly #log: AuditLog | null;
  readonly #logger: { warn(obj: object, msg?: string): void } | undefined;
  #queue: AuditEntry[] = [];
  #dropped = 0;
  #flushing: Promise<void> | null = null;
  #scheduled = false;

  constructor(log: AuditLog | null, logger?: { warn(obj: object, msg?: string): void }) {
    this.#log = log;
    this.#logger = logger;
  }

  push(entry: AuditEntry | null): void {
    if (!entry || !this.#log) return;
    if (this.#queue.length >= maxQueued) {
      this.#dropped += 1;
      return;
    }
    this.#queue.push(entry);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.flush();
      });
    }
  }

  /** Writes what is queued (waiting for a write under way first). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0 || !this.#log) return;
    const batch = this.#queue;
    this.#queue = [];
    const log = this.#log;
    this.#flushing = log
      .append(batch)
      .catch((err: unknown) => this.#logger?.warn({ err: { message: (err as Error).message }, lost: batch.length }, 'tokenstile: audit write failed'))
      .finally(() => {
        this.#flushing = null;
      });
    await this.#flushing;
    if (this.#dropped > 0) {
      this.#logger?.warn({ dropped: this.#dropped }, 'tokenstile: audit entries dropped while the store was slow');
      this.#dropped = 0;
    }
  }
}
