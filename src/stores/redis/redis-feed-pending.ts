/**
 * A revocation message this feed published, waiting for its own copy to come back on every channel
 * it went to and for the other instances' acknowledgements of each copy.
 */
export class PendingMessage {
  /** Indexes of the channels the message went to (one per channel its revocations hash to). */
  readonly #sent: ReadonlySet<number>;
  /** Channels whose copy of the message has not come back to this process yet. */
  readonly #unechoed: Set<string>;
  /** Per instance, the channels whose copy it acknowledged. */
  readonly #acks = new Map<string, Set<number>>();
  /** Re-evaluates the wait in progress, if any. */
  #wake: (() => void) | undefined;
  readonly #now: () => number;

  /** `channels` the message went to, and their indexes among the feed's revocation channels. */
  constructor(channels: readonly string[], indexes: readonly number[], now: () => number) {
    this.#unechoed = new Set(channels);
    this.#sent = new Set(indexes);
    this.#now = now;
  }

  /** Whether this process has its own copy back from every channel. */
  get echoed(): boolean {
    return this.#unechoed.size === 0;
  }

  /** This process's own copy came back on `channel`. */
  echo(channel: string): void {
    if (this.#unechoed.delete(channel)) this.#wake?.();
  }

  /** Instance `by` acknowledged the copy that came on the channel numbered `channel`. */
  acknowledge(by: string, channel: number): void {
    const acked = this.#acks.get(by) ?? new Set<number>();
    acked.add(channel);
    this.#acks.set(by, acked);
    this.#wake?.();
  }

  /** Whether instance `by` acknowledged the copy of every channel the message went to. */
  acknowledgedBy(by: string): boolean {
    const acked = this.#acks.get(by);
    return acked !== undefined && [...this.#sent].every((c) => acked.has(c));
  }

  /** Something the wait depends on changed (the subscription was lost, the feed closed). */
  wake(): void {
    this.#wake?.();
  }

  /** Waits until `next()` answers null; it is asked again at the time it names and at every wake. */
  async wait(next: () => number | null): Promise<void> {
    for (let at = next(); at !== null; at = next()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, at - this.#now()));
        timer.unref(); // a caller is waiting on it; a process shutting down need not
        this.#wake = done;
      });
    }
  }
}
