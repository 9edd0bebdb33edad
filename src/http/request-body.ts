import { errorMessages, TokenstileError } from '../core/errors.ts';
import { formType, parseForm } from './routes/oauth.ts';

/** Request bodies are small; anything larger is refused with 413 before parsing. */
export const bodyLimit = 16 * 1024;

/** What the Fastify adapter says of a body that is not JSON, or not safe JSON. */
const notJson = "Body is not valid JSON but content-type is set to 'application/json'";

/** True when a parsed value holds a key that would change an object's prototype if merged (iterative: bodies nest deep). */
function poisoned(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value === null || typeof value !== 'object') continue;
    for (const [key, inner] of Object.entries(value)) {
      if (key === '__proto__') return true;
      if (key === 'constructor' && inner !== null && typeof inner === 'object' && Object.hasOwn(inner, 'prototype')) return true;
      pending.push(inner);
    }
  }
  return false;
}

/** Parses a JSON body as the Fastify adapter does: `__proto__` and `constructor.prototype` refused. */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's own message quotes the body, which may hold a password: never repeated.
    throw new TokenstileError('invalid_request', notJson);
  }
  if (poisoned(value)) throw new TokenstileError('invalid_request', notJson);
  return value;
}

/** The media type of a `Content-Type` value (no parameters, lower case). */
function mediaType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** The media type of a Security Event Token (RFC 8417 section 2.3), as pushed to a receiver (RFC 8935). */
export const seceventType = 'application/secevent+jwt';

/** The one media type each body kind takes. */
const mediaTypes = { json: 'application/json', form: formType, secevent: seceventType } as const;

/** Refuses (415) a body whose media type a route of `kind` does not take (JSON routes: `application/json` only). */
export function checkMediaType(kind: keyof typeof mediaTypes, contentType: string): void {
  if (mediaType(contentType) !== mediaTypes[kind]) throw new TokenstileError('unsupported_media_type', errorMessages.unsupported_media_type);
}

/** The parsed body of a route of `kind` (its media type checked already); 400 for one that does not parse. */
export function parseBody(kind: keyof typeof mediaTypes, raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (kind === 'form') return parseForm(text);
  if (kind === 'secevent') return text.trim();
  return text === '' ? undefined : parseJsonBody(text);
}
