import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../core/config.ts';
import type { ReceiverSettings } from './receiver-options.ts';
import type { ReceiverStore } from './receiver-store.ts';
import type { SetOutcome } from './set-processor.ts';

/** How long one poll request may stay open (the transmitter's long poll is expected to end sooner). */
export const pollTimeoutMs = 30_000;
/** A poller holds its receiver's lease this long, renewed at every poll. */
const leaseMs = 2 * pollTimeoutMs + 15_000;
/** An empty answer sooner than this after asking (no long poll) waits out the rest before the next poll. */
const minPollIntervalMs = 1_000;
const maxBackoffMs = 60_000;

/** What a poller needs. */
export interface PollerDeps {
  readonly receiver: ReceiverSettings;
  readonly store: ReceiverStore;
  /** This process, as a lease holder. */
  readonly holder: string;
  /** The poll endpoint (configured, or the created stream's); may throw while it is not known yet. */
  endpoint(): Promise<URL>;
  /** Processes one SET; throws when it could not be processed now (it is then neither acknowledged nor refused). */
  process(token: string): Promise<SetOutcome>;
  now(): number;
  readonly fetch: typeof fetch;
  readonly logger?: Logger | undefined;
}

/** A running poller: `stop` ends its loop, sends the acknowledgements it still owes, and lets its lease go. */
export interface Poller {
  stop(): Promise<void>;
}

interface PollAnswer {
  readonly sets: Record<string, string>;
  readonly moreAvailable: boolean;
}

/**
 * Poll-based SET delivery (RFC 8936) for one receiver: a loop that asks the transmitter for SETs
 * (long polling), processes each, and acknowledges (`ack`) in its next request only those
 * processed, so only after their sessions ended on every instance; refused ones go back as
 * `setErrs`; one that could not be processed now (keys or database unreachable) is neither, so
 * the transmitter delivers it again. Errors back off (1 s doubling to 60 s, with jitter).
 *
 * Of several instances, only the holder of the receiver's lease (in the database) polls; the
 * others look again every few seconds and take over when it lapses. Were two ever to poll at once,
 * a SET processed twice ends its sessions twice and is acknowledged twice: harmless.
 */
export function startPoller(deps: PollerDeps): Poller {
  const stopping = new AbortController();
  const { receiver } = deps;
  const lease = `poll:${receiver.id}`;
  let ack: string[] = [];
  let setErrs: Record<string, { err: string; description: string }> = {};
  let backoff = 0;

  const pause = (ms: number) => sleep(ms, undefined, { signal: stopping.signal }).catch(() => {});

  const headers = { authorization: receiver.delivery.method === 'poll' ? receiver.delivery.authorization : '', 'content-type': 'application/json', accept: 'application/json' };
  const post = async (body: object, signal: AbortSignal) => deps.fetch(await deps.endpoint(), { method: 'POST', headers, body: JSON.stringify(body), redirect: 'error', signal });

  async function ask(body: object, timeoutMs: number): Promise<PollAnswer> {
    const response = await post(body, AbortSignal.any([stopping.signal, AbortSignal.timeout(timeoutMs)]));
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`the poll endpoint answered ${response.status}`);
    }
    const answer = (await response.json()) as { sets?: unknown; moreAvailable?: unknown };
    const sets = typeof answer.sets === 'object' && answer.sets !== null && !Array.isArray(answer.sets) ? (answer.sets as Record<string, unknown>) : null;
    if (sets === null) throw new Error('the poll answer has no sets object');
    return { sets: Object.fromEntries(Object.entries(sets).filter((e): e is [string, string] => typeof e[1] === 'string')), moreAvailable: answer.moreAvailable === true };
  }

  async function pollOnce(): Promise<void> {
    const maxEvents = receiver.delivery.method === 'poll' ? receiver.delivery.maxEvents : 25;
    const asked = performance.now();
    const answer = await ask({ ack, ...(Object.keys(setErrs).length > 0 && { setErrs }), maxEvents, returnImmediately: false }, pollTimeoutMs);
    // Delivered: the transmitter has them now.
    ack = [];
    setErrs = {};
    for (const [jti, token] of Object.entries(answer.sets)) {
      if (stopping.signal.aborted) return;
      // Throws when it cannot be processed now: the rest of the batch comes again too.
      const outcome = await deps.process(token);
      if (outcome.status === 'refused') setErrs[jti] = { err: outcome.refusal.err, description: outcome.refusal.description };
      else ack.push(jti);
    }
    const idle = Object.keys(answer.sets).length === 0 && !answer.moreAvailable;
    const elapsed = performance.now() - asked;
    if (idle && elapsed < minPollIntervalMs) await pause(minPollIntervalMs - elapsed);
  }

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const now = deps.now();
        if (!(await deps.store.takeLease(lease, deps.holder, now, now + leaseMs))) {
          await pause(leaseMs / 10);
          continue;
        }
        await pollOnce();
        backoff = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        backoff = Math.min(maxBackoffMs, Math.max(1_000, backoff * 2));
        deps.logger?.warn({ receiver: receiver.id, err: { message: (err as Error)?.message } }, 'tokenstile: polling a Shared Signals transmitter failed; trying again');
        await pause(backoff * (0.75 + Math.random() / 2));
      }
    }
  })();

  return {
    async stop() {
      stopping.abort();
      await loop;
      // What was processed since the last poll is acknowledged now, or delivered again later (a no-op then).
      if (ack.length > 0 || Object.keys(setErrs).length > 0) {
        const body = { ack, ...(Object.keys(setErrs).length > 0 && { setErrs }), maxEvents: 0, returnImmediately: true };
        await post(body, AbortSignal.timeout(5_000))
          .then((r) => r.body?.cancel())
          .catch(() => {});
      }
      await deps.store.releaseLease(lease, deps.holder).catch(() => {});
    },
  };
}
