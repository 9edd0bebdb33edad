import { featureApi } from '../core/feature.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { mfaFeature } from '../features/mfa/mfa-feature.ts';
import { CliError, settle, type CliIo } from './admin-commands.ts';
import { escaped, jsonLine } from './terminal-text.ts';

/**
 * `users mfa-reset USER`: for support, when a user lost their authenticator app, recovery codes
 * and passkeys. Removes them all, ends every session of the user (they sign in again with their
 * password alone), and records it in the audit trail (`mfa.reset`).
 */
export async function usersMfaReset(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await core.findUser(o.user);
  if (!user) throw new CliError(`no user ${JSON.stringify(o.user)} (give an email or a user id)`);
  const { totp, passkeys } = await featureApi(core, mfaFeature).mfa.reset(user.id);
  await settle(core);
  if (o.json) return io.out(jsonLine({ user: user.id, totp, passkeys }));
  const removed = [totp ? 'the authenticator app and recovery codes' : null, passkeys > 0 ? `${passkeys} passkey${passkeys === 1 ? '' : 's'}` : null].filter(Boolean);
  io.out(`reset second factors of ${user.id} <${escaped(user.email)}>: ${removed.length === 0 ? 'none were set up' : `removed ${removed.join(' and ')}`}; all of their sessions ended`);
}
