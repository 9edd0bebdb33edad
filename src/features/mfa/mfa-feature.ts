import type { AuthInfo } from '../../core/auth-info.ts';
import type { DeviceInfo } from '../../core/context.ts';
import type { CoreFeature, FeatureKit } from '../../core/feature.ts';
import { Passkeys } from '../passkeys/passkey-service.ts';
import { PasskeyStore } from '../passkeys/passkey-store.ts';
import type { RelyingParty } from '../passkeys/webauthn.ts';
import { mfaMigrations } from './mfa-migrations.ts';
import { Mfa } from './mfa-service.ts';
import { MfaStore } from './mfa-store.ts';
import { reauthenticate, type Reauthentication } from './reauthenticate.ts';
import { secretBox } from './secret-box.ts';
import { requireRecentAuth } from './step-up.ts';
import type { Result } from '../../core/errors.ts';

/** What the MFA feature's routes, the CLI and tests use: `featureApi(core, mfaFeature)`. */
export interface MfaFeatureApi {
  readonly mfa: Mfa;
  readonly passkeys: Passkeys;
  /** Step-up: `reauthentication_required` unless the caller proved who they are within 5 minutes. */
  requireRecentAuth(auth: AuthInfo): Promise<Result<void, 'reauthentication_required'>>;
  /** `POST /auth/reauthenticate`: the new auth time (ms). */
  reauth(auth: AuthInfo, input: Reauthentication, rp: RelyingParty, device: DeviceInfo): ReturnType<typeof reauthenticate>;
}

/**
 * Second factors and passkeys (issue 15): TOTP with recovery codes, passkeys (sign-in and second
 * factor), the `mfa_required` sign-in gate, and step-up re-authentication. See docs/mfa.md.
 */
export const mfaFeature: CoreFeature<MfaFeatureApi> = {
  name: 'mfa',
  migrations: mfaMigrations,
  setup(kit: FeatureKit): MfaFeatureApi {
    const passkeys = new Passkeys(kit, new PasskeyStore(kit.db));
    const mfa = new Mfa(kit, new MfaStore(kit.db), passkeys, secretBox(kit.keyEncryptionKey));
    kit.addSignInGate(({ user, amr, carry }) => mfa.gate(user, amr, carry));
    kit.addPurge((now) => mfa.purge(now));
    kit.addSignInMethod('passkeys', async (userId) => (await passkeys.store.list(userId)).length);
    return { mfa, passkeys, requireRecentAuth: (auth) => requireRecentAuth(kit, auth), reauth: (auth, input, rp, device) => reauthenticate(kit, mfa, auth, input, rp, device) };
  },
};
