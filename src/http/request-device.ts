import type { DeviceInfo } from '../core/context.ts';
import { deviceProofLifetimeMs } from '../core/device-proofs.ts';
import type { HttpReply, HttpRequest } from './http-types.ts';
import { provenDpopKey } from './dpop.ts';

/**
 * The device cookie: a proof that this device signed in to the account before (see
 * `DeviceProofs`), sent only to the sign-in route. With it, a flood of wrong passwords from
 * elsewhere cannot make the owner's sign-in wait. Set on cookie-transport sign-ins (browsers).
 */
export const deviceCookieName = '__Secure-tokenstile-device';

/** The caller's device, for the session record, rate limits and the audit log. */
export function device(request: HttpRequest): DeviceInfo {
  const proof = request.cookies?.[deviceCookieName];
  return {
    userAgent: firstValue(request.headers['user-agent']),
    ip: request.ip ?? null,
    deviceProof: typeof proof === 'string' && proof.length > 0 ? proof : null,
    dpopJkt: provenDpopKey(request),
  };
}

/** Sets the device cookie after a successful sign-in, for the sign-in route only. */
export function setDeviceCookie(reply: HttpReply, proof: string, loginPath: string): void {
  reply.setCookie(deviceCookieName, proof, { path: loginPath, httpOnly: true, secure: true, sameSite: 'strict', maxAge: Math.floor(deviceProofLifetimeMs / 1000) });
}

/** A header's value (the first when repeated), or null. */
function firstValue(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}
