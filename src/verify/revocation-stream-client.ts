import { RevocationList } from '../core/revocation-list.ts';
import type { VerifierEvent } from './verify-options.ts';

/** Options of `RevocationStreamClient`. */
export interface RevocationStreamClientOptions {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The list is trusted only while an event or heartbeat arrived within this many ms. */
  readonly staleAfterMs: number;
  /**
   * Where to acknowledge events (`POST …/revocations/stream/ack`), or null not to: then the list
   * is trusted only while a lease granted by the server is current (see `docs/verify.md`).
   */
  readonly ackUrl: string | null;
  readonly fetch: typeof fetch;
  /** Token time (for purging expired entries), ms since the epoch. */
  readonly now: () => number;
  readonly onEvent: (event: VerifierEvent) => void;
}

const minBackoffMs = 250;
const maxBackoffMs = 5000;
/** Until the first snapshot, reconnect at least this often: the auth server may be starting. */
const maxInitialBackoffMs = 1000;

/** An error's message with its cause's (`fetch failed` says nothing without `ECONNREFUSED …`). */
export function describeError(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail = typeof cause?.code === 'string' ? `${cause.code}${typeof cause.message === 'string' ? `: ${cause.message}` : ''}` : typeof cause?.message === 'string' ? cause.message : null;
  return detail === null || message.includes(detail) ? message : `${message} (${detail})`;
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding. */
function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/**
 * Follows the auth server's `/revocations/stream` (Server-Sent Events) into an in-memory
 * revocation list: a snapshot on connect, then each revocation as it happens, heartbeats in
 * between. Reconnects on its own (with `Last-Event-ID`, so a reconnect to the same server instance
 * resumes; any other gets a fresh snapshot), and drops a connection that has gone silent.
 *
 * `fresh` is true only after a snapshot and while something arrived within `staleAfterMs`
 * (monotonic time: it is about the connection, not about token expiry).
 */
export class RevocationStreamClient {
  readonly list = new RevocationList();
  readonly #o: RevocationStreamClientOptions;
  readonly #authorization: string;
  #lastContact = Number.NEGATIVE_INFINITY;
  #snapshot = false;
  #lastEventId: string | null = null;
  #connection: AbortController | null = null;
  #closed = false;
  #watchdog: NodeJS.Timeout | undefined;
  #wakeUp: (() => void) | null = null;
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  /** Why the last connection attempt failed, or null (for `ready()`'s error). */
  #lastError: Error | null = null;
  /** The open connection's stream id (for acknowledgements) and the lease the server grants. */
  #streamId: string | null = null;
  #leaseMs = 0;
  /** `performance.now()` until which the server vouches for this list (acknowledging mode). */
  #leaseUntil = Number.NEGATIVE_INFINITY;
  #acking = false;
  #ackAgain = false;
  #ackTimer: NodeJS.Timeout | undefined;

  constructor(options: RevocationStreamClientOptions) {
    this.#o = options;
    this.#authorization = basicAuth(options.clientId, options.clientSecret);
    this.#ready = new Promise((resolve) => (this.#resolveReady = resolve));
  }

  /**
   * True while the list can be trusted: a snapshot was received and the stream is not silent; when
   * acknowledging, while the lease of the last acknowledgement the server answered "current" lasts.
   */
  get fresh(): boolean {
    if (!this.#snapshot) return false;
    if (this.#o.ackUrl !== null) return performance.now() < this.#leaseUntil;
    return performance.now() - this.#lastContact <= this.#o.staleAfterMs;
  }

  /** Why the last connection attempt or acknowledgement failed, or null. */
  get lastError(): Error | null {
    return this.#lastError;
  }

  /** Resolves once the first snapshot has arrived. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Starts following the stream in the background. */
  start(): void {
    void this.#run();
    // A half-open connection delivers nothing and never fails: reconnect when silent too long.
    const silentMs = Math.max(this.#o.staleAfterMs / 2, 3000);
    this.#watchdog = setInterval(() => {
      if (this.#connection && performance.now() - this.#lastContact > silentMs) this.#connection.abort(new Error('the revocation stream went silent'));
    }, 1000);
    this.#watchdog.unref();
  }

  /** Stops following; the list stops being fresh. */
  close(): void {
    this.#closed = true;
    this.#snapshot = false;
    this.#leaseUntil = Number.NEGATIVE_INFINITY;
    clearInterval(this.#watchdog);
    clearTimeout(this.#ackTimer);
    this.#connection?.abort(new Error('closed'));
    this.#wakeUp?.();
  }

  async #run(): Promise<void> {
    let backoff = minBackoffMs;
    while (!this.#closed) {
      const connection = new AbortController();
      this.#connection = connection;
      try {
        const headers: Record<string, string> = { authorization: this.#authorization, accept: 'text/event-stream' };
        if (this.#lastEventId !== null) headers['last-event-id'] = this.#lastEventId;
        const res = await this.#o.fetch(this.#o.url, { headers, signal: connection.signal, redirect: 'error' });
        if (res.status !== 200 || !res.body) {
          await res.body?.cancel().catch(() => {});
          throw new Error(res.status === 401 ? 'the revocation stream refused the client credentials (401)' : `the revocation stream answered ${res.status}`);
        }
        this.#lastContact = performance.now();
        await this.#read(res.body, () => {
          backoff = minBackoffMs;
        });
        if (!this.#closed) this.#o.onEvent({ type: 'stream_error', message: 'the revocation stream ended' });
      } catch (err) {
        if (this.#closed) break;
        const reason = connection.signal.aborted ? connection.signal.reason : err;
        this.#lastError = reason instanceof Error ? reason : new Error(String(reason));
        this.#o.onEvent({ type: 'stream_error', message: describeError(reason) });
      } finally {
        connection.abort();
        this.#connection = null;
        // Events may now be missed: no lease is asked for until the next connection's snapshot.
        this.#streamId = null;
        this.#leaseUntil = Number.NEGATIVE_INFINITY;
        clearTimeout(this.#ackTimer);
        this.#ackTimer = undefined;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        timer.unref();
        this.#wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, this.#snapshot ? maxBackoffMs : maxInitialBackoffMs);
    }
  }

  async #read(body: ReadableStream<Uint8Array>, onOpen: () => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let event = 'message';
    let data: string[] = [];
    let id: string | null = null;
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\n|\r/)) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (data.length > 0 || event !== 'message') {
            if (this.#dispatch(event, data.join('\n'), id)) onOpen();
          }
          event = 'message';
          data = [];
          id = null;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
      if (buffer.length > 16 * 1024 * 1024) throw new Error('the revocation stream sent an over-long event');
    }
  }

  /** Applies one event; true when it was one of ours. */
  #dispatch(event: string, data: string, id: string | null): boolean {
    let body: unknown;
    try {
      body = data === '' ? {} : JSON.parse(data);
    } catch {
      return false;
    }
    if (event === 'heartbeat') {
      this.#lastContact = performance.now();
      // A resumed connection with nothing to replay is acknowledged from here.
      if (!this.#acking && this.#ackTimer === undefined) this.#acknowledge();
      return true;
    }
    if (event === 'stream') {
      const { stream, leaseMs } = body as { stream?: unknown; leaseMs?: unknown };
      if (typeof stream !== 'string' || typeof leaseMs !== 'number' || !(leaseMs > 0)) return false;
      this.#streamId = stream;
      this.#leaseMs = leaseMs;
      return true;
    }
    if (event !== 'snapshot' && event !== 'revoked') return false;
    const entries = (body as { revocations?: unknown }).revocations;
    if (!Array.isArray(entries)) return false;
    const now = this.#o.now();
    let count = 0;
    for (const e of entries) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') continue;
      this.list.add({ id: e[0], expiresAt: e[1] }, now);
      count += 1;
    }
    if (id !== null) this.#lastEventId = id;
    this.#lastContact = performance.now();
    if (event === 'snapshot') {
      this.#snapshot = true;
      this.#o.onEvent({ type: 'stream_connected', snapshot: true });
      // Acknowledging, the list is usable once the first lease is granted.
      if (this.#o.ackUrl === null) this.#resolveReady();
    } else {
      this.#o.onEvent({ type: 'revocations', count });
    }
    // Acknowledged at once: the server holds the revocation's confirmation until then.
    this.#acknowledge();
    return true;
  }

  /**
   * Sends `{stream, upTo}` for the last event applied (one request at a time; asked again when
   * more arrived meanwhile), then again every sixth of the lease. A "current" answer renews the
   * lease from when the request was sent.
   */
  #acknowledge(): void {
    const url = this.#o.ackUrl;
    if (url === null || this.#closed || this.#streamId === null || this.#lastEventId === null || !this.#snapshot) return;
    if (this.#acking) {
      this.#ackAgain = true;
      return;
    }
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#acking = true;
    this.#ackAgain = false;
    const stream = this.#streamId;
    const leaseMs = this.#leaseMs;
    const body = JSON.stringify({ stream, upTo: this.#lastEventId });
    const sentAt = performance.now();
    void (async () => {
      try {
        const res = await this.#o.fetch(url, {
          method: 'POST',
          headers: { authorization: this.#authorization, 'content-type': 'application/json', accept: 'application/json' },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(leaseMs),
        });
        const answer = (await res.json().catch(() => null)) as { current?: unknown; leaseMs?: unknown } | null;
        if (res.status === 404) {
          // The server no longer knows this connection: start again with a fresh one.
          this.#connection?.abort(new Error('the revocation stream is unknown to the server; reconnecting'));
        } else if (res.status !== 200) {
          throw new Error(`the revocation acknowledgement answered ${res.status}`);
        } else if (answer?.current === true && stream === this.#streamId) {
          const granted = typeof answer.leaseMs === 'number' ? Math.min(answer.leaseMs, leaseMs) : leaseMs;
          const until = sentAt + granted;
          if (until > this.#leaseUntil) this.#leaseUntil = until;
          this.#resolveReady();
        }
      } catch (err) {
        this.#lastError = err instanceof Error ? err : new Error(String(err));
        this.#o.onEvent({ type: 'stream_error', message: `acknowledgement failed: ${describeError(err)}` });
      } finally {
        this.#acking = false;
      }
      if (this.#closed || stream !== this.#streamId) return;
      if (this.#ackAgain) {
        this.#acknowledge();
        return;
      }
      this.#ackTimer = setTimeout(() => this.#acknowledge(), Math.max(10, leaseMs / 6));
      this.#ackTimer.unref();
    })();
  }
}
