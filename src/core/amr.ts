import { invalid, ok, type Result } from './errors.ts';

/**
 * The authentication method references of RFC 8176 (section 2): how a user proved who they are,
 * as a session records it and its access tokens carry it (`amr`). Also `fed`, a federated
 * assertion (an OAuth or SAML sign-in elsewhere): not in the IANA registry, but the value
 * Microsoft Entra ID and others put in `amr` for it, and what a host app's social sign-in records.
 * And `email`, a link or code sent by mail (Tokenstile's sign-in links): not in the registry either,
 * which has no value for proof of a mailbox.
 */
export const amrValues: ReadonlySet<string> = new Set([
  'email', 'face', 'fed', 'fpt', 'geo', 'hwk', 'iris', 'kba', 'mca', 'mfa', 'otp', 'pin', 'pwd', 'rba', 'retina', 'sc', 'sms', 'swk', 'tel', 'user', 'vbm', 'wia',
]);

/** What a password sign-in records, and what sessions made before `amr` was recorded count as. */
export const passwordAmr: readonly string[] = Object.freeze(['pwd']);

const maxAmrEntries = 8;

/**
 * Checks the `amr` of a sign-in: a non-empty array of at most 8 distinct RFC 8176 values. The
 * failure names the field `amr` and, for an unknown value, that value when it is short and plain.
 */
export function checkAmr(value: unknown): Result<readonly string[], 'invalid_request'> {
  if (!Array.isArray(value) || value.length === 0) return invalid('amr', 'must be a non-empty array of RFC 8176 values');
  if (value.length > maxAmrEntries) return invalid('amr', `must have at most ${maxAmrEntries} values`);
  for (const v of value) {
    if (typeof v !== 'string' || !amrValues.has(v)) {
      const shown = typeof v === 'string' && /^[a-z]{1,16}$/.test(v) ? ` "${v}"` : '';
      return invalid('amr', `has an unknown value${shown} (RFC 8176: ${[...amrValues].join(', ')})`);
    }
  }
  if (new Set(value).size !== value.length) return invalid('amr', 'must not repeat a value');
  return ok(Object.freeze([...(value as string[])]));
}

/**
 * True when `amr` shows a sign-in that proved two factors here: `mfa`, or a hardware key with
 * user verification (`hwk` + `user`: a passkey with PIN or biometrics is possession and
 * inherence). A federated sign-in (`fed`) never counts: the values a provider passes on describe
 * how the user proved who they are to the provider, not a factor of this account.
 *
 * @example
 * isMultiFactor(['hwk', 'user']); // true
 * isMultiFactor(['fed', 'mfa']); // false: the provider's claim, not ours
 */
export function isMultiFactor(amr: readonly string[]): boolean {
  if (amr.includes('fed')) return false;
  return amr.includes('mfa') || (amr.includes('hwk') && amr.includes('user'));
}
