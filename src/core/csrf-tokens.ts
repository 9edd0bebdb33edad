import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Anti-forgery tokens for browser sessions: `HMAC-SHA256(key, "csrf:" + sessionId)`, base64url.
 * Derived rather than stored, so no storage is needed and every instance sharing the key computes
 * the same token; it stays the same for the whole life of a session (refreshes do not change it),
 * which lets several tabs share it. It is not a credential: without the session's HttpOnly cookies
 * it authenticates nothing.
 */
export class CsrfTokens {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('CSRF key must be at least 32 bytes');
    this.#key = key;
  }

  /** The token of session `sessionId`. */
  tokenFor(sessionId: string): string {
    return createHmac('sha256', this.#key).update(`csrf:${sessionId}`).digest('base64url');
  }

  /** True when `presented` is the token of `sessionId` (constant-time compare). */
  matches(sessionId: string, presented: unknown): boolean {
    if (typeof presented !== 'string') return false;
    const expected = Buffer.from(this.tokenFor(sessionId));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
