import type { SsfSettings } from './ssf-options.ts';
import type { OutboxEntry, SsfStore, StreamRecord } from './ssf-store.ts';

const maxRetryDelayMs = 5 * 60_000;
const batch = 50;

/**
 * How long one push may take: `pushTimeout`, but at most half the lease, so a push started with at
 * least half the lease left (see `#pushAll`) ends before another instance may take its SET.
 */
export const pushTimeoutOf = (settings: SsfSettings): number => Math.min(settings.pushTimeoutMs, Math.floor(settings.pushLeaseMs / 2));

export interface PusherDeps {
  readonly store: SsfStore;
  readonly settings: SsfSettings;
  readonly now: () => number;
  /** The stream, null when deleted, or why it cannot be pushed to now. */
  readonly streamOf: (id: string) => Promise<StreamRecord | null | string>;
  readonly openSecret: (sealed: string) => string;
  /** Signs a SET's claims (JSON) with the key that signs now. */
  readonly sign: (claims: string) => Promise<string>;
  readonly delivered: (entry: OutboxEntry) => void;
  readonly failed: (entry: OutboxEntry, streamId: string, reason: string) => void;
  readonly logger?: { warn(obj: object, msg?: string): void } | undefined;
}

/**
 * Push delivery (RFC 8935): claims due SETs (leased, so no other instance pushes them meanwhile),
 * POSTs each to its stream's endpoint as `application/secevent+jwt`, deletes it on 202, and on
 * anything else gives it back, due again after a delay that doubles per failure (`retryDelay`, up
 * to 5 minutes); the stream's later SETs wait with it, so a receiver gets its SETs in order.
 * Each stream is pushed by its own chain: a slow or dead receiver holds up only its stream (the
 * claim skips streams with a chain under way here). One claiming run at a time per instance; a run
 * asked for while one is under way runs again after it, so a SET stored meanwhile is not left for
 * the timer.
 */
export class Pusher {
  readonly #deps: PusherDeps;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  /** Streams with a push chain under way on this instance, and the chains. */
  readonly #busy = new Set<string>();
  readonly #chains = new Set<Promise<void>>();
  /** Aborts the pushes under way when stopping: a shutdown does not wait for a slow receiver. */
  readonly #abort = new AbortController();

  constructor(deps: PusherDeps) {
    this.#deps = deps;
  }

  run(): void {
    if (this.#stopped) return;
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#round();
        } catch (err) {
          this.#deps.logger?.warn({ err }, 'tokenstile: shared-signals push round failed');
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = null;
    });
  }

  /**
   * Stops: pushes under way are aborted and, with what else this instance claimed, given back at
   * once for another instance (a CLI command that revoked sessions leaves the rest of the outbox to
   * the servers); no run starts again.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    while (this.#running !== null || this.#chains.size > 0) await Promise.all([this.#running, ...this.#chains]);
  }

  async #round(): Promise<void> {
    const { store, settings, now } = this.#deps;
    while (!this.#stopped) {
      const at = now();
      const leaseUntil = at + settings.pushLeaseMs;
      const claimed = await store.claimDue(at, leaseUntil, batch, [...this.#busy]);
      if (claimed.length === 0) return;
      // In order within a stream; streams side by side, none waiting for another.
      const byStream = new Map<string, OutboxEntry[]>();
      for (const e of claimed) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e]);
      for (const [streamId, entries] of byStream) {
        this.#busy.add(streamId);
        const chain: Promise<void> = this.#pushAll(streamId, entries, leaseUntil)
          .catch((err: unknown) => this.#deps.logger?.warn({ err }, 'tokenstile: shared-signals push failed'))
          .finally(() => {
            this.#busy.delete(streamId);
            this.#chains.delete(chain);
            // What the stream has beyond this batch, or stored meanwhile.
            this.run();
          });
        this.#chains.add(chain);
      }
      if (claimed.length < batch) return;
    }
  }

  /**
   * Pushes a stream's claimed entries in order. The claim's lease covers the whole batch, but a
   * slow receiver can take longer than the lease for all of them: before each push the lease of
   * the entries still to push is renewed when less than half of it is left, so no other instance
   * takes (and pushes again) an entry this one is about to push or is pushing. When the renewal
   * finds an entry no longer held (the lease ran out meanwhile: a stalled process), the chain ends.
   */
  async #pushAll(streamId: string, entries: readonly OutboxEntry[], leaseUntil: number): Promise<void> {
    const stream = await this.#deps.streamOf(streamId);
    const { store, settings, now } = this.#deps;
    let held = leaseUntil;
    let holdUntil: number | null = null;
    for (const [i, entry] of entries.entries()) {
      if (this.#stopped || holdUntil !== null) {
        // Given back: now for another instance (stopping), or with the failed one before it.
        await store.release(entry.jti, holdUntil ?? now());
        continue;
      }
      if (held - now() < settings.pushLeaseMs / 2) {
        const rest = entries.slice(i).map((e) => e.jti);
        const renewed = now() + settings.pushLeaseMs;
        if ((await store.renew(rest, held, renewed)) !== rest.length) return;
        held = renewed;
      }
      const failure = stream === null ? 'stream deleted' : typeof stream === 'string' ? stream : await this.#push(stream, entry);
      if (failure === null) {
        await this.#deps.store.remove(streamId, [entry.jti]);
        this.#deps.delivered(entry);
      } else {
        const delay = Math.min(this.#deps.settings.retryDelayMs * 2 ** Math.min(entry.attempts - 1, 30), maxRetryDelayMs);
        if (this.#stopped) {
          await this.#deps.store.release(entry.jti, this.#deps.now());
          continue;
        }
        holdUntil = this.#deps.now() + delay;
        await this.#deps.store.release(entry.jti, holdUntil);
        this.#deps.failed(entry, streamId, failure);
      }
    }
  }

  /** POSTs one SET; null when the receiver answered 202, else why not (no secret in it). */
  async #push(stream: StreamRecord, entry: OutboxEntry): Promise<string | null> {
    const { endpoint_url: url, authorization_header: sealed } = stream.config.delivery;
    if (url === undefined) return 'no endpoint_url';
    const headers: Record<string, string> = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
    if (sealed !== undefined) headers.authorization = this.#deps.openSecret(sealed);
    try {
      const res = await fetch(url, { method: 'POST', headers, body: await this.#deps.sign(entry.claims), redirect: 'manual', signal: AbortSignal.any([AbortSignal.timeout(pushTimeoutOf(this.#deps.settings)), this.#abort.signal]) });
      if (res.status === 202) {
        await res.body?.cancel();
        return null;
      }
      const text = (await res.text().catch(() => '')).slice(0, 2000);
      let err = '';
      try {
        const body = JSON.parse(text) as { err?: unknown };
        if (typeof body.err === 'string') err = ` ${body.err.slice(0, 100)}`;
      } catch {
        // not the RFC 8935 error document
      }
      return `HTTP ${res.status}${err}`;
    } catch (e) {
      return (e as Error).name === 'TimeoutError' ? 'timeout' : `network error: ${(e as Error).message.slice(0, 200)}`;
    }
  }
}
