/** Polls waiting for SETs (`returnImmediately: false`), by stream: woken when a SET may have been stored. */
export class PollWaiters {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Resolves when `wake(streamId)` or `wakeAll()` is called, or after `ms`. */
  wait(streamId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.#waiting.get(streamId) ?? new Set<() => void>();
      this.#waiting.set(streamId, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.#waiting.get(streamId) === set) this.#waiting.delete(streamId);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      set.add(done);
    });
  }

  wake(streamId: string): void {
    for (const done of [...(this.#waiting.get(streamId) ?? [])]) done();
  }

  wakeAll(): void {
    for (const id of [...this.#waiting.keys()]) this.wake(id);
  }
}
