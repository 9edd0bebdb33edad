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
 * every instance). With a feed, the list is trusted only while the feed is healthy: from the
 * moment it is not, `degraded` is true and callers check the store for each request, until the
 * feed is healthy again AND a catch-up read of the store has completed. Without a feed (one
 * process), the list is always trusted: this process writes every revocation it must know at once,
 * and other processes' (the CLI's) arrive with the next poll.
 */
export class RevocationSync {
  readonly list = new RevocationList();
  readonly #stores: Stores;
  readonly #clock: Clock;
  readonly #feed: RevocationFeed | undefined;
  readonly #emit: AuthEventListener;
  readonly #logger: Logger | undefined;
  readonly #staleAfterMs: number;
  #cursor: string | null = null;
  readonly #listeners = new Set<(revocations: readonly Revocation[]) => void>();
  #trusted: boolean;
  readonly #poll = single(async () => {
    const since = await this.#stores.sessions.revocationsSince(this.#cursor, this.#clock.now());
    this.#addAll(since.revocations);
    this.#cursor = since.cursor;
    this.#lastPollOk = performance.now();
  });
  /** Bumped on every health change, so a catch-up started before a flap cannot grant trust. */
  #epoch = 0;
  #catchingUp = false;
  /** Monotonic time of the last successful poll (real time: it is about timers, not tokens). */
  #lastPollOk = performance.now();

  constructor(options: { stores: Stores; clock: Clock; feed?: RevocationFeed; emit: AuthEventListener; logger?: Logger; pollIntervalMs: number }) {
    this.#stores = options.stores;
    this.#clock = options.clock;
    this.#feed = options.feed;
    this.#emit = options.emit;
    this.#logger = options.logger;
    this.#trusted = this.#feed === undefined;
    this.#staleAfterMs = Math.max(3 * options.pollIntervalMs, 3000);
  }

  /**
   * True while protected requests must check the store: with a feed, while it is down or catching
   * up; without one, while polls have failed for three intervals (revocations by other processes
   * could be missing).
   */
  get degraded(): boolean {
    if (this.#feed) return !this.#trusted;
    return performance.now() - this.#lastPollOk > this.#staleAfterMs;
  }

  /** Loads live revocations and starts the feed (rejecting if it does not start in 10 s). */
  async start(): Promise<void> {
    // Cursor first, then the snapshot: anything in between is seen twice, never missed.
    this.#cursor = (await this.#stores.sessions.revocationsSince(null, this.#clock.now())).cursor;
    this.#addAll(await this.#stores.sessions.liveRevocations(this.#clock.now()));
    this.#lastPollOk = performance.now();
    if (!this.#feed) return;
    const started = this.#feed.start({
      onRevocations: (revocations) => {
        const now = this.#clock.now();
        this.#addAll(revocations);
        const lagMs = Math.max(0, ...revocations.map((r) => now - r.revokedAt));
        this.#emit({ type: 'revocations_received', count: revocations.length, lagMs });
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

  #addAll(revocations: readonly Revocation[]): void {
    const now = this.#clock.now();
    const added: Revocation[] = [];
    for (const r of revocations) if (this.list.add(r, now)) added.push(r);
    if (added.length === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(added);
      } catch {
        // A listener's failure (a closed stream) must not stop the list or the other listeners.
      }
    }
  }

  /**
   * Calls `listener` with every revocation that enters the list from now on (from this process,
   * the feed or the store poll), once per session. Returns the unsubscribe function.
   */
  onAdded(listener: (revocations: readonly Revocation[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends sessions in the store, then in this list, then tells every other instance. */
  async revoke(target: RevokeTarget, headroomMs: number): Promise<Revocation[]> {
    const written = await this.#stores.sessions.revoke(target, this.#clock.now(), headroomMs);
    this.#addAll(written);
    if (written.length > 0 && this.#feed) {
      // Durable already. Instances that miss the message read it from the store within a poll
      // interval, and an instance whose feed is down checks the store per request meanwhile.
      await this.#feed.publish(written).catch((err: unknown) => this.#logger?.warn({ err }, 'tokenstile: publishing revocations failed'));
    }
    return written;
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
