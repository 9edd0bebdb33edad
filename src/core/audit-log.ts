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

/** Durable, append-only storage of audit entries. */
export interface AuditLog {
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** Entries of a user (or all), newest first, at most `limit`, older than `beforeSeq` when given. */
  query(filter: { userId?: string; limit: number; beforeSeq?: number }): Promise<AuditEntry[]>;
  /** Deletes entries older than `before`; returns how many went. */
  purge(before: number): Promise<number>;
}

const audited = new Set<AuthEvent['type']>([
  'login_succeeded', 'login_failed', 'registered', 'refresh_reuse_detected', 'logged_out',
  'session_revoked', 'password_changed', 'user_disabled', 'key_generated',
]);

/** The audit entry for an event, or null for events that are metrics only (refreshes, feed health…). */
export function auditEntryOf(event: AuthEvent, at: number): AuditEntry | null {
  if (!audited.has(event.type)) return null;
  const { type, ...rest } = event as AuthEvent & Record<string, unknown>;
  const pick = (name: string) => (typeof rest[name] === 'string' && (rest[name] as string).length > 0 ? (rest[name] as string).slice(0, 512) : null);
  const detail: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (['userId', 'sessionId', 'ip', 'userAgent'].includes(k) || v === undefined || v === null) continue;
    detail[k] = String(v).slice(0, 256);
  }
  return { at, type, userId: pick('userId'), sessionId: pick('sessionId'), ip: pick('ip'), userAgent: pick('userAgent'), detail };
}
