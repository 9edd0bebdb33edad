// A TOTP code as an authenticator app computes it, straight from otpauth (not through our module).
import { Secret, TOTP } from 'otpauth';

/** The 6-digit code of `secret` (base32) at `now` (ms): HMAC-SHA1, 30-second steps. */
export function totpCode(secret: string, now: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: now });
}
