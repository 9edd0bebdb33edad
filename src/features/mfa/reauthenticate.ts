import type { AuthInfo } from '../../core/auth-info.ts';
import { originOf, type DeviceInfo } from '../../core/context.ts';
import { passwordCredential } from '../../core/credential-store.ts';
import { fail, invalid, ok, type Result } from '../../core/errors.ts';
import type { FeatureKit } from '../../core/feature.ts';
import { normalizePassword } from '../../core/password.ts';
import type { RelyingParty } from '../passkeys/webauthn.ts';
import type { Mfa, MfaMethod } from './mfa-service.ts';

/** What `POST /auth/reauthenticate` takes: the password, or one second factor's proof. */
export type Reauthentication =
  | { readonly method: 'password'; readonly password?: string }
  | { readonly method: MfaMethod; readonly code?: string; readonly credential?: unknown };

/**
 * Step-up: the caller proves again who they are (password, TOTP, recovery code or passkey), and
 * the session's `authTime` becomes now, so sensitive changes are allowed for the next 5 minutes
 * (`requireRecentAuth`). Wrong answers count against the same per-user limit as second factors.
 * Answers the new auth time (ms).
 */
export async function reauthenticate(
  kit: FeatureKit,
  mfa: Mfa,
  auth: AuthInfo,
  input: Reauthentication,
  rp: RelyingParty,
  device: DeviceInfo,
): Promise<Result<number, 'invalid_credentials' | 'invalid_code' | 'too_many_requests' | 'invalid_request' | 'session_revoked'>> {
  let proved: Result<readonly string[], 'invalid_credentials' | 'invalid_code' | 'too_many_requests' | 'invalid_request'>;
  if (input.method === 'password') {
    if (typeof input.password !== 'string') return invalid('password', 'is required with method "password"');
    proved = await checkPassword(kit, mfa, auth.userId, input.password, device);
  } else {
    proved = await mfa.reauthenticate(auth, input, rp, device);
  }
  if (!proved.ok) return proved;
  const now = kit.clock.now();
  if (!(await kit.stores.sessions.setAuthTime(auth.sessionId, now))) return fail('session_revoked');
  kit.emit({ type: 'mfa.reauthenticated', userId: auth.userId, sessionId: auth.sessionId, method: input.method, ...originOf(device) });
  return ok(now);
}

/** The caller's password, checked like a sign-in's (argon2), limited per user. */
async function checkPassword(kit: FeatureKit, mfa: Mfa, userId: string, password: string, device: DeviceInfo): Promise<Result<readonly string[], 'invalid_credentials' | 'too_many_requests'>> {
  const attempt = await mfa.attempt(userId);
  if (!attempt.ok) return attempt;
  const [credential] = await kit.stores.credentials.list(userId, passwordCredential);
  if (credential && (await kit.hasher.verify(credential.secret, normalizePassword(password)))) {
    await mfa.store.releaseAttempt(attempt.value);
    return ok(['pwd']);
  }
  mfa.failed(userId, 'password', device);
  return fail('invalid_credentials');
}
