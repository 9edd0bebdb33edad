/**
 * The other instances a Redis revocation feed has heard, and how long each may still hold a lease
 * granted before a revocation: until its last heartbeat reached this process, plus its lease,
 * plus the lease of its acknowledging verifiers (`v`), plus a margin for clock-rate differences
 * between hosts (2% of its lease).
 */
export class FeedMembers {
  /** id → when its last heartbeat reached this process, and its lease; in order of last contact. */
  readonly #members = new Map<string, { heard: number; leaseMs: number }>();
  /** Instances that hold leases of acknowledging verifiers: id → the verifier lease (`v`), ms. */
  readonly #verifierLeases = new Map<string, number>();
  /** The lease assumed for an instance that announces none (an older release had none). */
  readonly #defaultLeaseMs: number;

  constructor(defaultLeaseMs: number) {
    this.#defaultLeaseMs = defaultLeaseMs;
  }

  /** Another instance's heartbeat (`l` and `v` as it sent them, unchecked) reached this process at `now`. */
  heard(id: string, now: number, l: unknown, v: unknown): void {
    // An older release sends no lease: it had none, so ours is as good a bound as any.
    const leaseMs = typeof l === 'number' && l > 0 && l <= 60_000 ? l : this.#defaultLeaseMs;
    // Re-inserted at the back, so the map stays in order of last contact for `prune`.
    this.#members.delete(id);
    this.#members.set(id, { heard: now, leaseMs });
    // Kept as long as the member is: its verifiers may hold leases granted under the last `v`.
    if (typeof v === 'number' && v > 0 && Number.isFinite(v)) this.#verifierLeases.set(id, Math.max(v, this.#verifierLeases.get(id) ?? 0));
  }

  /** The instance said bye: no longer to be waited for. */
  left(id: string): void {
    this.#members.delete(id);
    this.#verifierLeases.delete(id);
  }

  /** Every instance that may still hold a lease at `at`, with the time its lease ends at the latest. */
  deadlinesAfter(at: number): Map<string, number> {
    const deadlines = new Map<string, number>();
    for (const id of this.#members.keys()) {
      const deadline = this.#deadline(id);
      if (deadline > at) deadlines.set(id, deadline);
    }
    return deadlines;
  }

  /** Forgets the instances whose leases ended before `now`. */
  prune(now: number): void {
    for (const id of this.#members.keys()) {
      if (this.#deadline(id) >= now) continue;
      this.left(id);
    }
  }

  #deadline(id: string): number {
    const { heard, leaseMs } = this.#members.get(id)!;
    // An instance with acknowledging verifiers holds its ack for at most one verifier lease.
    return heard + leaseMs + (this.#verifierLeases.get(id) ?? 0) + Math.ceil(leaseMs / 50);
  }
}
