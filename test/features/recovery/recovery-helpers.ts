// Shared by the recovery suites: an app with the recovery feature's options, and the links of the
// mails it kept in its outbox (no SMTP: the embedded default).
import assert from 'node:assert/strict';
import { featureApi } from '../../../src/core/feature.ts';
import type { Tokenstile } from '../../../src/core/tokenstile.ts';
import type { OutboxMail } from '../../../src/features/mail/outbox-store.ts';
import { recoveryFeature, type RecoveryApi } from '../../../src/features/recovery/recovery-feature.ts';

/** The recovery feature's api on an app's core. */
export function recoveryOf(core: Tokenstile): RecoveryApi {
  return featureApi(core, recoveryFeature);
}

/** Every mail to `to`, newest first, once the work started by earlier answers is done. */
export async function mailsTo(core: Tokenstile, to: string): Promise<OutboxMail[]> {
  const recovery = recoveryOf(core);
  await recovery.settle();
  return (await recovery.outbox.list({ limit: 1000 })).filter((m) => m.recipient === to);
}

/** The token of the newest mail to `to` whose link does `action` (`reset`, `verify`, `email-change`, `magic`). */
export async function tokenFromMail(core: Tokenstile, to: string, action: string): Promise<string> {
  for (const mail of await mailsTo(core, to)) {
    const match = new RegExp(`#${action}=(tso_[A-Za-z0-9_-]+)`).exec(mail.text ?? '');
    if (match) return match[1]!;
  }
  assert.fail(`no ${action} link mailed to ${to}`);
}

/** The claims of a JWT access token (no check: the server made it). */
export function claimsOf(accessToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
