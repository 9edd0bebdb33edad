import type { CoreContext, DeviceInfo } from './context.ts';
import { fail } from './errors.ts';
import { failedLoginSpacingMs, type RateLimits } from './rate-limits.ts';

/** A sign-in attempt's client as the throttle tells them apart. */
export interface SignInClient {
  readonly ip: string | null;
  /** The device id of a valid device proof for the account (a device that signed in before), or null. */
  readonly knownDevice: string | null;
}

/** The rule that refused an attempt, for the `rate_limited` event. */
export type SignInRule = 'loginPerIp' | 'loginPerAccount' | 'loginSpacing' | 'loginPerAccountAllClients';

/** A refused attempt: `too_many_requests`, the wait, and the rule that refused it. */
export type SignInRefusal = ReturnType<typeof fail<'too_many_requests'>> & { readonly rule: SignInRule };

/** The client of a sign-in attempt on `account`: its IP, and its device if its proof holds. */
export function signInClient(ctx: CoreContext, account: string, device: DeviceInfo): SignInClient {
  return { ip: device.ip ?? null, knownDevice: ctx.devices.verify(account, device.deviceProof, ctx.clock.now()) };
}

/** The subject of the per-account-and-client counter and spacing. */
function clientKey(account: string, client: SignInClient): string {
  return client.knownDevice !== null ? `${account}|device:${client.knownDevice}` : `${account}|ip:${client.ip ?? 'unknown'}`;
}

function refused(result: { ok: false; code: 'too_many_requests'; retryAfterMs?: number }, rule: SignInRule): SignInRefusal {
  return { ...fail('too_many_requests', result.retryAfterMs), rule };
}

/**
 * Decides whether a sign-in attempt on `account` gets its password checked, and counts it if so.
 * Guessing is throttled without handing a lock to anyone else:
 *
 * - attempts are counted per account *and client* (a known device, else the IP), with a growing
 *   spacing after the third failure, so a guesser uses up only their own attempts;
 * - per IP across accounts, against one place trying many accounts;
 * - per account across clients, against a guesser spread over many IPs: over it, only known
 *   devices and clients with no attempt on the account in the window are let through;
 * - a refused attempt is not counted anywhere, so hammering does not extend a wait.
 *
 * Everything is looked at first and counted only once the attempt is admitted; the counting steps
 * are atomic per key, so parallel attempts cannot slip past the spacing or the limits.
 */
export async function admitSignIn(limits: RateLimits, account: string, client: SignInClient, now: number): Promise<{ readonly ok: true } | SignInRefusal> {
  const subject = clientKey(account, client);
  const perIp = await limits.peek('loginPerIp', client.ip, now);
  if (!perIp.ok) return refused(perIp, 'loginPerIp');
  const perClient = await limits.peek('loginPerAccount', subject, now);
  if (!perClient.ok) return refused(perClient, 'loginPerAccount');
  if (client.knownDevice === null && perClient.value > 0) {
    // A client that already tried this account: is the account under a spread-out attack?
    const allClients = await limits.peek('loginPerAccountAllClients', account, now);
    if (!allClients.ok) return refused(allClients, 'loginPerAccountAllClients');
  }
  // A success resets the counter, so the attempts it holds all failed.
  const spacing = failedLoginSpacingMs(perClient.value);
  if (spacing > 0) {
    const spaced = await limits.space(subject, spacing, now);
    if (!spaced.ok) return refused(spaced, 'loginSpacing');
  }
  // Admitted: counted now, before the password is checked.
  const counted = await limits.check('loginPerAccount', subject, now);
  if (!counted.ok) return refused(counted, 'loginPerAccount'); // a parallel attempt took the last one
  const ip = await limits.check('loginPerIp', client.ip, now);
  if (!ip.ok) return refused(ip, 'loginPerIp');
  // Known devices are not the spread-out guesser this counts; over the limit it records nothing.
  if (client.knownDevice === null) await limits.check('loginPerAccountAllClients', account, now);
  return { ok: true };
}

/** After a successful sign-in: the client starts afresh (the account-wide count stays). */
export async function signInSucceeded(limits: RateLimits, account: string, client: SignInClient): Promise<void> {
  await limits.resetAccount(clientKey(account, client));
}
