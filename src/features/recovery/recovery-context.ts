import { normalizeEmail } from '../../core/account-text.ts';
import { originOf, type DeviceInfo } from '../../core/context.ts';
import type { CredentialRecord } from '../../core/credential-store.ts';
import { passwordCredential } from '../../core/credential-store.ts';
import { fail, ok, type Result } from '../../core/errors.ts';
import type { FeatureKit } from '../../core/feature.ts';
import { uuidv7 } from '../../core/ids.ts';
import { normalizePassword } from '../../core/password.ts';
import type { UserRecord } from '../../core/user-store.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { MailKind } from '../mail/mail-templates.ts';
import { linkFor, type LinkAction, type RecoverySettings } from './recovery-options.ts';

/** What the recovery flows share. */
export interface RecoveryContext {
  readonly kit: FeatureKit;
  readonly settings: RecoverySettings;
  readonly mailer: Mailer;
  readonly background: BackgroundWork;
}

/**
 * Work done after the answer went out (looking an address up, issuing a token, queueing a mail),
 * so that an answer never depends on whether the address has an account. At most `max` tasks
 * wait at once; beyond that a task is dropped with a warning (a flood, already rate limited).
 */
export class BackgroundWork {
  readonly #pending = new Set<Promise<void>>();
  readonly #warn: (obj: object, msg: string) => void;
  readonly #max: number;

  constructor(warn: (obj: object, msg: string) => void, max = 256) {
    this.#warn = warn;
    this.#max = max;
  }

  run(what: string, task: () => Promise<void>): void {
    if (this.#pending.size >= this.#max) {
      this.#warn({ what }, 'tokenstile: too much mail work waiting; dropped one request');
      return;
    }
    // Started on the next turn of the event loop, once the answer has been written: a synchronous
    // database (SQLite) would otherwise do the lookup before the answer goes out.
    const p: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(task)
      .catch((err: unknown) => this.#warn({ what, err: { message: (err as Error)?.message } }, 'tokenstile: account mail work failed'))
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves once nothing is pending (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}

/**
 * Counts one mail request for `email` and for the client's IP under the `mailPerAccount` and
 * `mailPerIp` limits. Unknown and known addresses count alike, so a refusal tells nothing.
 */
export async function admitMailRequest(rc: RecoveryContext, email: string | null, device: DeviceInfo): Promise<Result<void, 'too_many_requests'>> {
  const now = rc.kit.clock.now();
  const byIp = await rc.kit.limits.check('mailPerIp', device.ip, now);
  if (!byIp.ok) {
    rc.kit.emit({ type: 'rate_limited', rule: 'mailPerIp' });
    return byIp;
  }
  const byAccount = await rc.kit.limits.check('mailPerAccount', email ?? undefined, now);
  if (!byAccount.ok) {
    rc.kit.emit({ type: 'rate_limited', rule: 'mailPerAccount' });
    return byAccount;
  }
  return ok(undefined);
}

/** The live (not disabled) user with this email, or null. */
export async function liveUserByEmail(rc: RecoveryContext, email: string): Promise<UserRecord | null> {
  const normalized = normalizeEmail(email);
  const user = normalized === null ? null : await rc.kit.stores.users.byEmail(normalized);
  return user !== null && user.disabledAt === null ? user : null;
}

/** The live user with this id, or null. */
export async function liveUserById(rc: RecoveryContext, id: string | null): Promise<UserRecord | null> {
  const user = id === null ? null : await rc.kit.stores.users.byId(id);
  return user !== null && user.disabledAt === null ? user : null;
}

/** Issues a one-time token for `purpose` (replacing the user's older ones) and queues the mail with its link. */
export async function mailLink(
  rc: RecoveryContext,
  input: { user: UserRecord; purpose: string; action: LinkAction; kind: MailKind; to: string; ttlMs: number; data?: unknown; newEmail?: string },
): Promise<string> {
  const token = await rc.kit.oneTimeTokens.issue({ purpose: input.purpose, userId: input.user.id, data: input.data, ttlMs: input.ttlMs, replace: true });
  const site = new URL(rc.settings.appUrl).host;
  return rc.mailer.enqueue(input.kind, input.to, { email: input.user.email, link: linkFor(rc.settings, input.action, token), site, ...(input.newEmail !== undefined && { newEmail: input.newEmail }) }, input.ttlMs);
}

/** The password credential for `password` (hashed here; the password is not kept). */
export async function passwordRecord(rc: RecoveryContext, userId: string, password: string, now: number): Promise<CredentialRecord> {
  const secret = await rc.kit.hasher.hash(normalizePassword(password));
  return { id: uuidv7(now, rc.kit.random), userId, kind: passwordCredential, secret, createdAt: now, updatedAt: now };
}

/** An `invalid_code` failure (wrong, used or expired link). */
export const invalidCode = () => fail('invalid_code');

export { originOf };
