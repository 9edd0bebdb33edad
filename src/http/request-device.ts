import type { FastifyRequest } from 'fastify';
import type { DeviceInfo } from '../core/context.ts';

/** The caller's device, for the session record, rate limits and the audit log. */
export function device(request: FastifyRequest): DeviceInfo {
  return { userAgent: request.headers['user-agent'] ?? null, ip: request.ip ?? null };
}
