import { TokenstileError } from '../core/errors.ts';
import type { BodyKind } from './http-types.ts';
import { formType, parseForm } from './routes/oauth.ts';

/** Request bodies are small; anything larger is refused with 413 before parsing. */
export const bodyLimit = 16 * 1024;

/** Keys that would change an object's prototype if a later merge copied them. */
function poisoned(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(poisoned);
  for (const [key, inner] of Object.entries(value)) {
    if (key === '__proto__') return true;
    if (key === 'constructor' && inner !== null && typeof inner === 'object' && Object.hasOwn(inner, 'prototype')) return true;
    if (poisoned(inner)) return true;
  }
  return false;
}

/** Parses a JSON body as the Fastify adapter does: `__proto__` and `constructor.prototype` refused. */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TokenstileError('invalid_request', `The body is not valid JSON: ${(err as Error).message}`);
  }
  if (poisoned(value)) throw new TokenstileError('invalid_request', 'Object contains forbidden prototype property');
  return value;
}

/** The media type of a `Content-Type` value (no parameters, lower case), or null when absent. */
function mediaType(contentType: string | undefined): string | null {
  if (contentType === undefined) return null;
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/**
 * The parsed body of a request to a route of `kind`, from its raw bytes (null: none sent).
 * Throws the coded error to answer: 413 past `bodyLimit`, 415 for a media type the route does not
 * take (JSON routes: `application/json` only), 400 for a body that does not parse.
 */
export function parseBody(kind: BodyKind, contentType: string | undefined, raw: Buffer | null): unknown {
  if (raw === null) return undefined;
  if (raw.length > bodyLimit) throw new TokenstileError('payload_too_large', 'Request body is too large');
  const type = mediaType(contentType);
  const accepted = kind === 'form' ? formType : 'application/json';
  if (type !== accepted) {
    if (raw.length === 0 && type === null) return undefined;
    throw new TokenstileError('unsupported_media_type', `Unsupported Media Type: ${type ?? 'none'}`);
  }
  const text = raw.toString('utf8');
  if (kind === 'form') return parseForm(text);
  return text === '' ? undefined : parseJsonBody(text);
}
