import { randomBytes } from 'node:crypto';
import type { EventOrigin, RevocationCause } from '../../core/events.ts';
import type { Revocation } from '../../core/revocation.ts';
import type { UserRecord } from '../../core/user-store.ts';
import { alwaysDelivered, credentialChange, credentialChangeOf, initiatorOf, reasonOf, sessionRevoked, streamUpdated, subjectOf, userSubject, verification, type CredentialChange } from './ssf-events.ts';
import type { SsfSettings } from './ssf-options.ts';
import { signSet, type SetKey } from './ssf-signer.ts';
import { pushMethod, type NewSet, type OutboxEntry, type SsfStore, type StreamRecord, type StreamStatus } from './ssf-store.ts';
import { eventKeys, subjectWanted } from './ssf-subjects.ts';
import { Pusher } from './ssf-pusher.ts';
import { PollWaiters } from './ssf-poll-waiters.ts';

/** What the transmitter needs of the core. */
export interface TransmitterDeps {
  readonly store: SsfStore;
  readonly settings: SsfSettings;
  readonly issuer: string;
  readonly now: () => number;
  readonly signingKey: () => SetKey;
  readonly userById: (id: string) => Promise<UserRecord | null>;
  /** Reports a feature event (`ssf.*`, audited). */
  readonly emit: (event: { type: `ssf.${string}`; [k: string]: string | number | boolean | null | undefined }) => void;
  /** Opens the receiver's sealed `authorization_header`. */
  readonly openSecret: (sealed: string) => string;
  readonly logger?: { warn(obj: object, msg?: string): void } | undefined;
}

/** Counters since this process started (for `/metrics` and tests). */
export interface TransmitterStats {
  stored: number;
  delivered: number;
  failed: number;
  acknowledged: number;
  dropped: number;
  expired: number;
}

/** What a poll asked (RFC 8936 §2.4). */
export interface PollRequest {
  readonly ack: readonly string[];
  readonly setErrs: Readonly<Record<string, { err: string; description?: string }>>;
  readonly maxEvents: number;
  readonly returnImmediately: boolean;
}

const newId = () => randomBytes(16).toString('base64url');

/**
 * Long polls one stream may have waiting at once; a poll beyond them answers at once (as a short
 * poll). A long poll whose client went away keeps waiting until `longPollTimeout`, so without a cap
 * a receiver (or a loop of aborted requests) could hold any number of waits, each reading the
 * outbox every `outboxPollInterval`.
 */
export const maxLongPollsPerStream = 8;

/**
 * The Shared Signals transmitter: turns revocations and credential changes into signed SETs,
 * stores them per stream before the change answers, pushes them (RFC 8935) or hands them to polls
 * (RFC 8936), and deletes each once its receiver acknowledged it.
 */
export class Transmitter {
  readonly stats: TransmitterStats = { stored: 0, delivered: 0, failed: 0, acknowledged: 0, dropped: 0, expired: 0 };
  readonly #deps: TransmitterDeps;
  readonly #pusher: Pusher;
  readonly #waiters = new PollWaiters();
  /** Long polls waiting, by stream. */
  readonly #longPolls = new Map<string, number>();
  /** Writes started by events (credential changes), awaited by `close`. */
  readonly #writes = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #receiverKnown: (clientId: string) => boolean = () => true;

  constructor(deps: TransmitterDeps) {
    this.#deps = deps;
    this.#pusher = new Pusher({
      store: deps.store,
      settings: deps.settings,
      now: deps.now,
      openSecret: deps.openSecret,
      sign: (claims) => this.#sign(claims),
      streamOf: async (id) => {
        const stream = await deps.store.stream(id);
        return stream === null || this.#receiverKnown(stream.clientId) ? stream : 'receiver removed';
      },
      delivered: (entry) => {
        this.stats.delivered += 1;
        // On the server's clock, as `created_at`: how long the SET waited for its receiver.
        deps.emit({ type: 'ssf.delivered', streamId: entry.streamId, jti: entry.jti, attempts: entry.attempts, ms: Math.max(0, deps.now() - entry.createdAt) });
      },
      failed: (entry, stream, reason) => {
        this.stats.failed += 1;
        deps.emit({ type: 'ssf.delivery_failed', streamId: stream, jti: entry.jti, attempts: entry.attempts, reason });
      },
      logger: deps.logger,
    });
  }

  /**
   * Tells the transmitter which receivers (clients) still exist (the HTTP layer's client registry):
   * a removed client's streams get no new SETs, and their pushes wait (until the client is back or
   * the SETs expire).
   */
  setReceiverCheck(known: (clientId: string) => boolean): void {
    this.#receiverKnown = known;
  }

  /** Starts the outbox timer (due retries, other instances' SETs). */
  start(): void {
    this.#timer = setInterval(() => this.wake(), this.#deps.settings.outboxPollMs);
    this.#timer.unref();
    this.wake();
  }

  /** Something may be in the outbox: push what is due, and let waiting polls look. */
  wake(): void {
    if (this.#closed) return;
    this.#pusher.run();
    this.#waiters.wakeAll();
  }

  /** Records `session-revoked` SETs for the sessions a revocation ended, one per session and stream. */
  async revoked(ended: readonly Revocation[], cause: RevocationCause, origin: EventOrigin): Promise<void> {
    void origin;
    const streams = await this.#streamsFor(sessionRevoked);
    if (streams.length === 0) return;
    const txn = newId();
    const users = new Map<string, UserRecord | null>();
    const sets: NewSet[] = [];
    for (const r of ended) {
      if (!users.has(r.userId)) users.set(r.userId, await this.#deps.userById(r.userId));
      const user = users.get(r.userId) ?? null;
      const wanted = await this.#wanting(streams, eventKeys(user, r.userId, r.id));
      const reason = reasonOf(cause);
      const event = { event_timestamp: Math.floor(r.revokedAt / 1000), initiating_entity: initiatorOf(cause), reason_admin: { en: reason }, reason_user: { en: reason } };
      for (const s of wanted) {
        const sub = subjectOf(this.#userSubject(s, r.userId, user), r.id);
        sets.push(this.#set(s, sessionRevoked, sub, event, txn));
      }
    }
    await this.#store(sets);
  }

  /** Records a `credential-change` SET for a user's credential event (after it happened; see docs). */
  credentialEvent(type: string, event: Readonly<Record<string, unknown>>): void {
    const change = credentialChangeOf(type, event);
    const userId = event.userId;
    if (change === null || typeof userId !== 'string' || this.#closed) return;
    const write = this.#credentialChanged(userId, change).catch((err: unknown) => {
      this.#deps.logger?.warn({ err, event: type }, 'tokenstile: could not store a credential-change SET');
      this.#deps.emit({ type: 'ssf.set_lost', userId, event: type });
    });
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }

  async #credentialChanged(userId: string, change: CredentialChange): Promise<void> {
    const streams = await this.#streamsFor(credentialChange);
    if (streams.length === 0) return;
    const user = await this.#deps.userById(userId);
    const wanted = await this.#wanting(streams, eventKeys(user, userId));
    const event = { event_timestamp: Math.floor(this.#deps.now() / 1000), ...change };
    const sets: NewSet[] = [];
    for (const s of wanted) sets.push(this.#set(s, credentialChange, subjectOf(this.#userSubject(s, userId, user)), event, newId()));
    await this.#store(sets);
  }

  /** Stores a verification SET for a stream (SSF §8.1.4), with the receiver's `state` when given. */
  async verify(stream: StreamRecord, state: string | undefined): Promise<void> {
    const event = state === undefined ? {} : { state };
    await this.#store([this.#set(stream, verification, { format: 'opaque', id: stream.id }, event, newId())]);
  }

  /** Stores a stream-updated SET after a status change (held while paused, as every SET). */
  async statusChanged(stream: StreamRecord, status: StreamStatus, reason: string | null): Promise<void> {
    if (status === 'disabled') return;
    const event = reason === null ? { status } : { status, reason };
    await this.#store([this.#set(stream, streamUpdated, { format: 'opaque', id: stream.id }, event, newId())]);
  }

  /**
   * A poll (RFC 8936): deletes the acknowledged SETs, records `setErrs` (audited, then deleted:
   * the receiver will not take them), and answers up to `maxEvents` pending SETs; waits for one
   * (bounded) when none is pending and `returnImmediately` is false.
   */
  async poll(stream: StreamRecord, request: PollRequest): Promise<{ sets: Record<string, string>; moreAvailable: boolean }> {
    const { store, settings, now } = this.#deps;
    if (request.ack.length > 0) {
      const acked = await store.remove(stream.id, request.ack);
      this.stats.acknowledged += acked;
      if (acked > 0) this.#deps.emit({ type: 'ssf.acknowledged', streamId: stream.id, count: acked });
    }
    const errs = Object.entries(request.setErrs);
    for (const [jti, e] of errs) this.#deps.emit({ type: 'ssf.set_error', streamId: stream.id, jti, err: e.err, description: e.description ?? null });
    if (errs.length > 0) await store.remove(stream.id, errs.map(([jti]) => jti));
    const take = async () => (request.maxEvents === 0 ? [] : store.pending(stream.id, now(), request.maxEvents + 1));
    let found = await take();
    const waiting = this.#longPolls.get(stream.id) ?? 0;
    if (found.length === 0 && !request.returnImmediately && request.maxEvents > 0 && stream.status === 'enabled' && waiting < maxLongPollsPerStream) {
      this.#longPolls.set(stream.id, waiting + 1);
      try {
        const until = Date.now() + settings.longPollMs;
        while (found.length === 0 && !this.#closed && Date.now() < until) {
          await this.#waiters.wait(stream.id, Math.min(until - Date.now(), settings.outboxPollMs));
          found = await take();
        }
      } finally {
        const left = (this.#longPolls.get(stream.id) ?? 1) - 1;
        if (left === 0) this.#longPolls.delete(stream.id);
        else this.#longPolls.set(stream.id, left);
      }
    }
    if (stream.status !== 'enabled') found = [];
    const page = found.slice(0, request.maxEvents);
    const signed = await Promise.all(page.map(async (e: OutboxEntry) => [e.jti, await this.#sign(e.claims)] as const));
    return { sets: Object.fromEntries(signed), moreAvailable: found.length > page.length };
  }

  /** Deletes SETs past their lifetime (the purge timer). */
  async purge(at: number): Promise<void> {
    for (const [streamId, n] of await this.#deps.store.purge(at)) {
      this.stats.expired += n;
      this.#deps.emit({ type: 'ssf.sets_expired', streamId, count: n });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#waiters.wakeAll();
    await Promise.allSettled([...this.#writes]);
    await this.#pusher.stop();
  }

  /** Live streams that deliver `eventType`. */
  async #streamsFor(eventType: string): Promise<StreamRecord[]> {
    const streams = await this.#deps.store.liveStreams();
    return streams.filter((s) => s.config.events_requested.includes(eventType) && this.#receiverKnown(s.clientId));
  }

  /** Of `streams`, those that take an event matching `keys` (add/remove subject, default_subjects). */
  async #wanting(streams: readonly StreamRecord[], keys: readonly string[]): Promise<StreamRecord[]> {
    const choices = await this.#deps.store.subjectChoices(streams.map((s) => s.id), keys);
    return streams.filter((s) => subjectWanted(choices.get(s.id), this.#deps.settings.defaultSubjects));
  }

  #userSubject(stream: StreamRecord, userId: string, user: UserRecord | null) {
    const format = stream.config.user_subject_format === 'email' && user !== null ? 'email' : 'iss_sub';
    return userSubject(this.#deps.issuer, { id: userId, email: user?.email ?? '' }, format);
  }

  #set(stream: StreamRecord, eventType: string, subId: object, event: object, txn: string): NewSet {
    const jti = newId();
    const claims = { iss: this.#deps.issuer, jti, iat: Math.floor(this.#deps.now() / 1000), aud: stream.config.aud, txn, sub_id: subId, events: { [eventType]: event } };
    return { streamId: stream.id, jti, eventType, claims: JSON.stringify(claims) };
  }

  /**
   * Signs stored claims when they are sent, with the key that signs then: a SET that waited through
   * a key rotation still verifies with the JWKS its receiver fetches.
   */
  #sign(claims: string): Promise<string> {
    return signSet(this.#deps.signingKey(), JSON.parse(claims) as Record<string, unknown>);
  }

  async #store(sets: readonly NewSet[]): Promise<void> {
    if (sets.length === 0) return;
    const { store, settings, now } = this.#deps;
    const dropped = await store.append(sets, now(), settings.setLifetimeMs, settings.maxBacklog);
    this.stats.stored += sets.length;
    this.#deps.emit({ type: 'ssf.stored', count: sets.length, streams: new Set(sets.map((s) => s.streamId)).size });
    for (const [streamId, n] of dropped) {
      this.stats.dropped += n;
      this.#deps.emit({ type: 'ssf.sets_dropped', streamId, count: n });
    }
    for (const id of new Set(sets.map((s) => s.streamId))) this.#waiters.wake(id);
    this.#pusher.run();
  }
}

/** Whether a stream takes an event type (requested, or always delivered). */
export function delivers(stream: StreamRecord, eventType: string): boolean {
  return alwaysDelivered.includes(eventType) || stream.config.events_requested.includes(eventType);
}

export { pushMethod };
