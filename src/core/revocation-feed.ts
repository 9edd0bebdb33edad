import type { Revocation } from './revocation.ts';

/**
 * Pushes revocations to every instance (and verifier) as they happen, so that each keeps its
 * in-memory list current without a store query per request. The store stays the truth: a feed
 * may drop messages while it is unhealthy, and an instance that regains it catches up from the
 * store before trusting it again.
 *
 * A feed gives each process a **lease**: the process may trust what the feed delivered only until
 * `leaseUntil`. The lease is renewed by contact that proves delivery is current (for Redis: this
 * process's own heartbeat coming back on every channel, so every message the server took before
 * that heartbeat has been delivered). `publish` relies on it: it resolves only once every
 * subscriber that could still trust its list without the revocations holds them, or has lost the
 * lease it held when they were sent. The protocol and its proof are in `docs/scaling.md`.
 */
export interface RevocationFeed {
  /** A short name for logs and metrics, such as `redis`. */
  readonly kind: string;
  /**
   * Sends revocations to every subscriber, this process included, and resolves once no subscriber
   * can still trust a list without them: each live subscriber acknowledged them after adding them,
   * or the lease it held when they were sent has run out. Rejects when that cannot be established
   * within about one lease (the feed is down, or this process's own subscription is); the
   * revocations are already durable in the store by then.
   */
  publish(revocations: readonly Revocation[]): Promise<void>;
  /**
   * Starts delivery; rejects when the feed cannot be reached at all. `onRevocations` receives
   * what any instance published, and must add them synchronously; the acknowledgement to the
   * publisher follows its return or, when it returns a promise, that promise's settling (this is
   * how an instance holds its acknowledgement until its acknowledging verifiers have the
   * revocations, or their leases have run out: at most the lease given to
   * `announceVerifierLease`). `onHealth` is told when the lease lapses or the subscription is
   * lost, and when the feed is healthy again (reconnected, lease renewed). Errors thrown by the
   * handlers are swallowed: delivery goes on.
   */
  start(handlers: { onRevocations(revocations: Revocation[]): void | Promise<void>; onHealth(healthy: boolean): void }): Promise<void>;
  /**
   * Announces that this process may hold acknowledgements for up to `leaseMs` (it grants
   * acknowledging verifiers leases of that length), so that publishers wait that much longer for
   * it before they give up on its acknowledgement. From the call on, this process's lease is
   * renewed only by contact made after the announcement. Optional: a feed without
   * acknowledgements has nothing to announce.
   */
  announceVerifierLease?(leaseMs: number): void;
  /** True while messages are known to arrive (the lease is current). */
  readonly healthy: boolean;
  /**
   * Until when (in `performance.now()` milliseconds) this process may trust what the feed has
   * delivered; 0 when it may not. Read on every protected request: a field, not a computation.
   */
  readonly leaseUntil: number;
  close(): Promise<void>;
}
