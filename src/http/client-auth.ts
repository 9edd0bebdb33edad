import type { ClientRegistry } from '../core/clients.ts';
import type { HttpReply, HttpRequest } from './http-types.ts';
import { sendProblem } from './problem.ts';

/** Client credentials as presented: HTTP Basic (RFC 6749 §2.3.1) or `client_id`/`client_secret` in the form. */
export interface PresentedClient {
  readonly id: string;
  readonly secret: string;
  readonly method: 'client_secret_basic' | 'client_secret_post';
}

function formDecode(text: string): string | null {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/**
 * The credentials of a request: `Authorization: Basic base64(urlencode(id):urlencode(secret))`, or
 * the form's `client_id` and `client_secret`. `'ambiguous'` when both, or a malformed header.
 */
export function presentedClient(authorization: string | undefined, form: Readonly<Record<string, unknown>> | undefined): PresentedClient | 'ambiguous' | null {
  const inForm = form !== undefined && (form.client_secret !== undefined || (form.client_id !== undefined && authorization === undefined));
  if (authorization !== undefined && /^basic /i.test(authorization)) {
    if (inForm && form?.client_secret !== undefined) return 'ambiguous';
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return 'ambiguous';
    const id = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (id === null || secret === null) return 'ambiguous';
    // A client_id in the form must then name the same client.
    if (form?.client_id !== undefined && form.client_id !== id) return 'ambiguous';
    return { id, secret, method: 'client_secret_basic' };
  }
  if (inForm && typeof form?.client_id === 'string' && typeof form.client_secret === 'string') {
    return { id: form.client_id, secret: form.client_secret, method: 'client_secret_post' };
  }
  return null;
}

/**
 * Authenticates the calling client or answers `401 invalid_client` (problem+json with the RFC 6749
 * `error` member, and `WWW-Authenticate: Basic`). Returns the client id, or null once answered.
 */
export async function requireClient(registry: ClientRegistry, request: HttpRequest, reply: HttpReply): Promise<string | null> {
  const presented = presentedClient(headerValue(request.headers.authorization), request.body as Record<string, unknown> | undefined);
  if (presented === null || presented === 'ambiguous' || !(await registry.authenticate(presented.id, presented.secret))) {
    const detail =
      presented === null
        ? 'Client authentication is required: HTTP Basic or client_id and client_secret.'
        : presented === 'ambiguous'
          ? 'Use exactly one client authentication method, well formed.'
          : undefined;
    await sendProblem(reply, 'invalid_client', { detail });
    return null;
  }
  return presented.id;
}

/** A single-valued header (a repeated one counts as absent-or-first as Node gives it). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
