import type { Revocation } from './revocation.ts';

/**
 * Pushes revocations to every instance (and verifier) as they happen, so that each keeps its
 * in-memory list current without a store query per request. The store stays the truth: a feed
 * may drop messages while it is unhealthy, and an instance that regains it catches up from the
 * store before trusting it again.
 */
export interface RevocationFeed {
  /** A short name for logs and metrics, such as `redis`. */
  readonly kind: string;
  /**
   * Sends revocations to every subscriber, this process included. Rejects when the feed is down;
   * the revocations are already durable in the store by then.
   */
  publish(revocations: readonly Revocation[]): Promise<void>;
  /**
   * Starts delivery; rejects when the feed cannot be reached at all. `onRevocations` receives
   * what any instance published; `onHealth` is told when the feed becomes unhealthy
   * (disconnected, or silent beyond its bound) and when it is healthy again (reconnected and heard
   * from). Errors thrown by the handlers are swallowed: delivery goes on.
   */
  start(handlers: { onRevocations(revocations: Revocation[]): void; onHealth(healthy: boolean): void }): Promise<void>;
  /** True while messages are known to arrive. */
  readonly healthy: boolean;
  close(): Promise<void>;
}
