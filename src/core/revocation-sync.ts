import type { Clock } from './clock.ts';
import type { Logger } from './config.ts';
import type { AuthEventListener } from './events.ts';
import type { Revocation } from './revocation.ts';
import type { RevocationFeed } from './revocation-feed.ts';
import { RevocationList } from './revocation-list.ts';
import { single } from './single.ts';
import type { RevokeTarget } from './session-store.ts';
import type { Stores } from './stores.ts';

/** How a session stands according to the store, for requests served while the feed is down. */
export type StoreCheck = 'live' | 'revoked' | 'unavailable';

/**
 * Keeps the in-memory revocation list current and says when it can be trusted.
 *
 * Sources: the store (loaded at start, then polled), and the feed when there is one (pushed by
 * every instance). The list is trusted only while two leases are current:
 * - the **store lease**: a poll that started less than `storeLeaseMs` ago has completed, so
 *   every revocation committed before that poll started is in the list (this is what makes a
 *   revocation by a process the feed cannot reach, such as the CLI, safe to answer after waiting
 *   out one store lease);
 * - with a feed, the **feed lease** (`RevocationFeed.leaseUntil`), and only once the list has
 *   caught up from the store after the feed was last unhealthy.
 * While either has lapsed, `degraded` is true and callers check the store for each request.
 * `docs/scaling.md` ("The logout guarantee") has the protocol and its proof.
 */
export class RevocationSync {
  readonly list = new RevocationList();
  readonly #stores: Stores;
  readonly #clock: Clock;
  readonly #feed: RevocationFeed | undefined;
  readonly #emit: AuthEventListener;
  readonly #logger: Logger | undefined;
  readonly #storeLeaseMs: number;
  readonly #storeLeaseWaitMs: number;
  /** How far apart the instances' clocks may be (the clock tolerance), for `revokedAt` comparisons. */
  readonly #skewMs: number;
  /** `performance.now()` until which the last complete poll vouches for the list. */
  #storeLeaseUntil = 0;
  #cursor: string | null = null;
  readonly #listeners = new Set<(revocations: readonly Revocation[]) => void | Promise<void>>();
  /** The lease granted to acknowledging verifiers (0: none): added to the store-lease fallback. */
  #verifierLeaseMs = 0;
  #trusted: boolean;
  readonly #poll = single(async () => {
    const started = performance.now();
    // A backlog larger than one read comes in several; the lease needs all of it.
    for (let more = true; more; ) {
      const since = await this.#stores.revocations.revocationsSince(this.#cursor, this.#clock.now());
      this.#addAll(since.revocations);
      this.#cursor = since.cursor;
      more = since.more === true;
    }
    this.#storeLeaseUntil = Math.max(this.#storeLeaseUntil, started + this.#storeLeaseMs);
  });
  /** Bumped on every health change, so a catch-up started before a flap cannot grant trust. */
  #epoch = 0;
  #catchingUp = false;

  /**
   * `storeLeaseMs`: how long a completed poll vouches for the list (real time: leases are about
   * timers, not tokens); polls must come several times within it.
   */
  constructor(options: { stores: Stores; clock: Clock; feed?: RevocationFeed; emit: AuthEventListener; logger?: Logger; storeLeaseMs: number; verifierLeaseMs?: number; skewMs?: number }) {
    this.#stores = options.stores;
    this.#clock = options.clock;
    this.#feed = options.feed;
    this.#emit = options.emit;
    this.#logger = options.logger;
    this.#trusted = this.#feed === undefined;
    this.#storeLeaseMs = options.storeLeaseMs;
    // Waiting out the others without the feed: their store lease, then the lease they may have
    // granted acknowledging verifiers, and 2 % more for clock-rate differences between hosts.
    this.#storeLeaseWaitMs = Math.ceil((options.storeLeaseMs + (options.verifierLeaseMs ?? 0)) * 1.02);
    this.#skewMs = options.skewMs ?? 5_000;
  }

  /** How long a completed poll vouches for the list, in ms. */
  get storeLeaseMs(): number {
    return this.#storeLeaseMs;
  }

  /**
   * True while protected requests must check the store: a lease has lapsed (no complete poll
   * within the store lease; with a feed, its lease), or the list is catching up after the feed
   * was unhealthy. Read on every protected request: compares, no I/O.
   */
  get degraded(): boolean {
    const now = performance.now();
    if (now >= this.#storeLeaseUntil) return true;
    const feed = this.#feed;
    return feed !== undefined && (!this.#trusted || now >= feed.leaseUntil);
  }

  /** Loads live revocations and starts the feed (rejecting if it does not start in 10 s). */
  async start(): Promise<void> {
    // Cursor first, then the snapshot: anything in between is seen twice, never missed.
    const loadedFrom = performance.now();
    this.#cursor = (await this.#stores.revocations.revocationsSince(null, this.#clock.now())).cursor;
    this.#addAll(await this.#stores.revocations.liveRevocations(this.#clock.now()));
    this.#storeLeaseUntil = loadedFrom + this.#storeLeaseMs;
    if (!this.#feed) return;
    const started = this.#feed.start({
      onRevocations: (revocations) => {
        const now = this.#clock.now();
        const held = this.#addAll(revocations);
        const lagMs = Math.max(0, ...revocations.map((r) => now - r.revokedAt));
        this.#emit({ type: 'revocations_received', count: revocations.length, lagMs });
        // The feed acknowledges once acknowledging verifiers have them (or lost their leases).
        return held;
      },
      onHealth: (healthy) => this.#onHealth(healthy),
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the ${this.#feed!.kind} revocation feed did not start within 10 s`)), 10_000);
    });
    try {
      await Promise.race([started, deadline]);
    } finally {
      clearTimeout(timer);
    }
    if (this.#feed.healthy) this.#onHealth(true);
  }

  #onHealth(healthy: boolean): void {
    this.#epoch += 1;
    if (!healthy) {
      this.#emit({ type: 'feed_health', healthy: false });
      if (this.#trusted) this.#logger?.warn({ feed: this.#feed?.kind }, 'tokenstile: revocation feed unhealthy; checking the store per request');
      this.#trusted = false;
      return;
    }
    void this.#catchUp();
  }

  /**
   * Reads what was missed while the feed was down, with a poll that starts after the feed came
   * back (a poll already running may have read the store before the last missed revocation was
   * written), then trusts the list again unless the feed flapped meanwhile.
   */
  async #catchUp(): Promise<void> {
    const epoch = this.#epoch;
    this.#catchingUp = true;
    try {
      await this.idle();
      await this.poll();
    } catch (err) {
      this.#logger?.warn({ err }, 'tokenstile: catch-up after feed recovery failed; retrying with the next poll');
      return;
    } finally {
      this.#catchingUp = false;
    }
    if (epoch === this.#epoch && this.#feed?.healthy && !this.#trusted) {
      this.#trusted = true;
      // Reported healthy only now that the list is caught up and trusted again.
      this.#emit({ type: 'feed_health', healthy: true });
      this.#logger?.info({ feed: this.#feed.kind }, 'tokenstile: revocation feed healthy; list caught up');
    }
  }

  /** The timer's round: poll the store, and finish a catch-up that failed. */
  tick(): void {
    this.poll().catch((err: unknown) => this.#logger?.warn({ err }, 'tokenstile: revocation poll failed'));
    if (this.#feed?.healthy && !this.#trusted && !this.#catchingUp) void this.#catchUp();
  }

  /**
   * Adds to the list and tells the listeners; returns what the listeners returned, settled
   * (never rejecting), when any returned a promise. A listener is called for what is new only,
   * so it may hold on to *everything it has been told* rather than to these revocations alone.
   */
  #addAll(revocations: readonly Revocation[]): Promise<void> | undefined {
    const now = this.#clock.now();
    const added: Revocation[] = [];
    for (const r of revocations) if (this.list.add(r, now)) added.push(r);
    const held: Promise<void>[] = [];
    for (const listener of this.#listeners) {
      try {
        // Already-known revocations reach listeners as an empty call: they may still be in flight.
        const result = listener(added);
        if (result instanceof Promise) held.push(result.catch(() => {}));
      } catch {
        // A listener's failure (a closed stream) must not stop the list or the other listeners.
      }
    }
    return held.length > 0 ? Promise.all(held).then(() => {}) : undefined;
  }

  /**
   * Calls `listener` with every revocation that enters the list from now on (from this process,
   * the feed or the store poll), once per session, and with an empty array when revocations
   * already in the list are received again. A listener may return a promise: the revocation
   * then counts as delivered (the feed acknowledges it, `revoke` confirms it) only once that
   * promise settles; it must settle within the lease announced with `holdForVerifiers`.
   * Returns the unsubscribe function.
   */
  onAdded(listener: (revocations: readonly Revocation[]) => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Ends sessions in the store, then in this list, then tells every other instance. `confirmed`
   * resolves (never rejects) once no instance can still trust a list without them: the feed
   * confirmed delivery (every live instance acknowledged, or lost its lease), or one store lease
   * and one verifier lease have passed since the commit (every instance still trusting its list
   * has polled since, and the verifier leases it granted before have run out). Whichever first: the
   * second bounds a logout while the feed is down or slow. Without a feed (one process) this
   * process's own list is all there is, and it is current at once.
   */
  async revoke(target: RevokeTarget, headroomMs: number): Promise<{ written: Revocation[]; confirmed: Promise<void> }> {
    const written = await this.#stores.sessions.revoke(target, this.#clock.now(), headroomMs);
    const committed = performance.now();
    // This process's own acknowledging verifiers (none: undefined).
    const local = written.length === 0 ? undefined : this.#addAll(written);
    const feed = this.#feed;
    if (written.length === 0) {
      // Nothing left to end: maybe another revocation ended these sessions a moment ago and is
      // still being confirmed, while this caller saw them live. Its answer must not come first:
      // that revocation committed before now, so one store lease (and verifier lease) from now is
      // always enough.
      if (feed === undefined) return { written, confirmed: Promise.resolve() };
      const recent = await this.#stores.revocations.lastRevokedAt(target, this.#clock.now() - this.#storeLeaseMs - this.#skewMs).catch(() => 0);
      return { written, confirmed: recent === null ? Promise.resolve() : this.settle(committed) };
    }
    if (feed === undefined) return { written, confirmed: local ?? Promise.resolve() };
    const confirmed = (async () => {
      let timer: NodeJS.Timeout | undefined;
      // Another instance learns of it from the store within a store lease, and its acknowledging
      // verifiers (if any, anywhere: this process cannot know them all) within their lease.
      const storeLease = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#storeLeaseWaitMs)));
      try {
        await Promise.race([feed.publish(written), storeLease]);
      } catch (err) {
        this.#logger?.warn({ err: { message: (err as Error).message } }, 'tokenstile: revocation not confirmed by the feed; waiting out the store lease');
        await storeLease;
      } finally {
        clearTimeout(timer);
      }
      await local;
      this.#emit({ type: 'revocation_confirmed', ms: performance.now() - committed });
    })();
    return { written, confirmed };
  }

  /**
   * Declares that this process grants acknowledging verifiers leases of `leaseMs` (see the
   * revocation stream): the feed announces it to the other instances, which then wait that much
   * longer for this one, and a revocation the feed cannot confirm waits it out after the store
   * lease.
   */
  holdForVerifiers(leaseMs: number): void {
    if (!(leaseMs > this.#verifierLeaseMs)) return;
    this.#verifierLeaseMs = leaseMs;
    this.#feed?.announceVerifierLease?.(leaseMs);
  }

  /**
   * Waits until one store lease (and one verifier lease) has passed since `committedAt`
   * (`performance.now()` ms): by then every process that trusts its list has polled since, and
   * every verifier lease it granted before has run out, so a revocation committed before that
   * time is refused everywhere.
   */
  async settle(committedAt: number): Promise<void> {
    const wait = committedAt + this.#storeLeaseWaitMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Reads revocations recorded since the last poll (by anyone) into the list; joins a poll under way. */
  poll(): Promise<void> {
    return this.#poll.run();
  }

  /** Waits for a poll under way, if any. */
  idle(): Promise<void> {
    return this.#poll.idle();
  }

  /** The store's word on a session, for requests served while degraded. */
  async checkStore(sessionId: string): Promise<StoreCheck> {
    let outcome: StoreCheck;
    try {
      const session = await this.#stores.sessions.get(sessionId);
      // Unknown: purged after its end, or never ours (the signature says it was ours).
      outcome = session === null || session.revokedAt !== null ? 'revoked' : 'live';
    } catch (err) {
      this.#logger?.warn({ err }, 'tokenstile: store check failed while degraded');
      outcome = 'unavailable';
    }
    this.#emit({ type: 'store_check', outcome });
    return outcome;
  }

  /** Waits for work under way. The feed is closed by whoever opened it. */
  async close(): Promise<void> {
    await this.idle();
  }
}
