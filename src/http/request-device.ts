import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceInfo } from '../core/context.ts';
import { deviceProofLifetimeMs } from '../core/device-proofs.ts';

/**
 * The device cookie: a proof that this device signed in to the account before (see
 * `DeviceProofs`), sent only to the sign-in route. With it, a flood of wrong passwords from
 * elsewhere cannot make the owner's sign-in wait. Set on cookie-transport sign-ins (browsers).
 */
export const deviceCookieName = '__Secure-tokenstile-device';

/** The caller's device, for the session record, rate limits and the audit log. */
export function device(request: FastifyRequest): DeviceInfo {
  const proof = request.cookies?.[deviceCookieName];
  return {
    userAgent: request.headers['user-agent'] ?? null,
    ip: request.ip ?? null,
    deviceProof: typeof proof === 'string' && proof.length > 0 ? proof : null,
  };
}

/** Sets the device cookie after a successful sign-in, for the sign-in route only. */
export function setDeviceCookie(reply: FastifyReply, proof: string, loginPath: string): void {
  reply.setCookie(deviceCookieName, proof, { path: loginPath, httpOnly: true, secure: true, sameSite: 'strict', maxAge: Math.floor(deviceProofLifetimeMs / 1000) });
}
