/** What this process knows of one revocation stream that may acknowledge. */
interface StreamState {
  readonly clientId: string;
  /** Sequence number of the last event written to it (its snapshot counts as everything up to then). */
  sent: number;
  /** Highest sequence number it acknowledged: the verifier had applied every event up to it. */
  acked: number;
  /** `performance.now()` by which any lease this process granted it has surely run out. */
  leaseEnd: number;
  open: boolean;
}

/**
 * The acknowledgement side of the revocation stream: which streams were sent and acknowledged
 * what, the leases granted to their verifiers, and the waits for them.
 *
 * A lease granted by an answer to a request received at time r ends, for the verifier, at most
 * `leaseMs` after it sent the request, so before r + `leaseMs`; this process counts it until
 * r + `leaseMs` + 2 % (clock-rate differences between hosts), even after the connection closed
 * (the verifier may not have noticed yet).
 */
export class StreamAcks {
  readonly #leaseMs: number;
  readonly #margin: number;
  readonly #now: () => number;
  readonly #streams = new Map<string, StreamState>();
  readonly #waiters = new Set<{ readonly seq: number; readonly resolve: () => void }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(leaseMs: number, now: () => number = () => performance.now()) {
    this.#leaseMs = leaseMs;
    this.#margin = Math.ceil(leaseMs / 50);
    this.#now = now;
  }

  /** A stream opened with everything up to `seq` in its first write. */
  opened(id: string, clientId: string, seq: number): void {
    this.#streams.set(id, { clientId, sent: seq, acked: -1, leaseEnd: Number.NEGATIVE_INFINITY, open: true });
  }

  /** Event `seq` was written to stream `id`. */
  sent(id: string, seq: number): void {
    const s = this.#streams.get(id);
    if (s) s.sent = seq;
  }

  /** The stream's connection closed: it gets nothing more; a lease it holds still counts. */
  closed(id: string): void {
    const s = this.#streams.get(id);
    if (!s) return;
    s.open = false;
    if (s.leaseEnd <= this.#now()) this.#streams.delete(id);
  }

  /** True when `id` is an open stream of `clientId`. */
  knows(id: string, clientId: string): boolean {
    const s = this.#streams.get(id);
    return s !== undefined && s.open && s.clientId === clientId;
  }

  /** The last event written to stream `id` (-1 when unknown): read when an acknowledgement arrives. */
  sentOf(id: string): number {
    return this.#streams.get(id)?.sent ?? -1;
  }

  /**
   * Records that the verifier of stream `id` had applied every event up to `upTo` when it sent a
   * request this process received at `receivedAt`, when `sentAtReceipt` events had been written
   * to the stream; grants it a lease (returns true) when `upTo` covers all of those and `trusted`
   * (this process's own list is current when it answers). Events written after `receivedAt` are
   * waited for (their revocations stay unconfirmed) until acknowledged or until this lease ends.
   * An acknowledgement that trails an event sent before it arrived renews nothing: that event may
   * have been given up on already, when a lease ran out.
   */
  acknowledge(id: string, upTo: number, receivedAt: number, sentAtReceipt: number, trusted: boolean): boolean {
    const s = this.#streams.get(id);
    if (!s?.open || upTo > s.sent) return false;
    if (upTo > s.acked) {
      s.acked = upTo;
      this.#check();
    }
    if (!trusted || upTo < sentAtReceipt) return false;
    s.leaseEnd = Math.max(s.leaseEnd, receivedAt + this.#leaseMs + this.#margin);
    return true;
  }

  /**
   * Undefined when every stream holding a lease has acknowledged event `seq`; otherwise a promise
   * that resolves once each has, or its lease has run out (at most `leaseMs` and the margin).
   */
  covered(seq: number): Promise<void> | undefined {
    if (this.#blockedUntil(seq) === null) return undefined;
    return new Promise((resolve) => {
      this.#waiters.add({ seq, resolve });
      this.#check();
    });
  }

  /** Forgets closed streams whose lease has run out. */
  prune(): void {
    const now = this.#now();
    for (const [id, s] of this.#streams) if (!s.open && s.leaseEnd <= now) this.#streams.delete(id);
  }

  /** Releases every wait (the server is closing). */
  close(): void {
    clearTimeout(this.#timer);
    for (const w of this.#waiters) w.resolve();
    this.#waiters.clear();
  }

  /** When the last lease that still blocks `seq` ends, or null when nothing blocks it. */
  #blockedUntil(seq: number): number | null {
    const now = this.#now();
    let until: number | null = null;
    for (const s of this.#streams.values()) {
      if (s.leaseEnd > now && s.acked < seq) until = until === null ? s.leaseEnd : Math.max(until, s.leaseEnd);
    }
    return until;
  }

  #check(): void {
    clearTimeout(this.#timer);
    let next: number | null = null;
    for (const w of this.#waiters) {
      const until = this.#blockedUntil(w.seq);
      if (until === null) {
        this.#waiters.delete(w);
        w.resolve();
      } else {
        next = next === null ? until : Math.min(next, until);
      }
    }
    if (next !== null) this.#timer = setTimeout(() => this.#check(), Math.max(1, Math.ceil(next - this.#now())));
  }
}
