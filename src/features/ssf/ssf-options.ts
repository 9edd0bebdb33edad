import { parseDuration, type Duration } from '../../core/duration.ts';
import { ConfigError } from '../../core/errors.ts';

/**
 * The OpenID Shared Signals transmitter (`TokenstileOptions.sharedSignals`, docs/shared-signals.md).
 * Off unless `enabled` (`TOKENSTILE_SSF=true`). Durations as `'30s'`, `'7d'`, `'500ms'` or a number of seconds.
 */
export interface SharedSignalsOptions {
  /** Serve `/.well-known/ssf-configuration`, the stream endpoints, and write SETs. Default false. */
  readonly enabled?: boolean;
  /**
   * What a stream receives before any add/remove subject: `ALL` (every user's events, minus
   * removed subjects) or `NONE` (only added subjects). Default `ALL`.
   */
  readonly defaultSubjects?: 'ALL' | 'NONE';
  /** Streams one client (receiver) may have. Default 5. */
  readonly maxStreamsPerClient?: number;
  /** Subjects one stream may add or remove. Default 10000. */
  readonly maxSubjectsPerStream?: number;
  /** Undelivered SETs one stream keeps; the oldest beyond it are dropped (audited). Default 10000. */
  readonly maxBacklog?: number;
  /** How long an undelivered SET is kept. Default 7 days. */
  readonly setLifetime?: Duration;
  /** First retry of a failed push, doubled per failure up to 5 minutes. Default 1 s. */
  readonly retryDelay?: Duration;
  /** How long an instance holds a claimed push before another may take it (crash recovery). Default 30 s. */
  readonly pushLease?: Duration;
  /** Timeout of one push request. Default 10 s. */
  readonly pushTimeout?: Duration;
  /** How often each instance looks at the outbox for work of other instances and due retries. Default 1 s. */
  readonly outboxPollInterval?: Duration;
  /** The longest a poll with `returnImmediately: false` waits for a SET. Default 30 s. */
  readonly longPollTimeout?: Duration;
  /**
   * Accept `http:` push endpoints on any host (development only). Default false: `https:`, or
   * `http:` on a loopback address (127.0.0.0/8, ::1, localhost).
   */
  readonly allowInsecureEndpoints?: boolean;
}

/** The checked options, durations in ms. */
export interface SsfSettings {
  readonly enabled: boolean;
  readonly defaultSubjects: 'ALL' | 'NONE';
  readonly maxStreamsPerClient: number;
  readonly maxSubjectsPerStream: number;
  readonly maxBacklog: number;
  readonly setLifetimeMs: number;
  readonly retryDelayMs: number;
  readonly pushLeaseMs: number;
  readonly pushTimeoutMs: number;
  readonly outboxPollMs: number;
  readonly longPollMs: number;
  readonly allowInsecureEndpoints: boolean;
}

function count(name: string, value: number | undefined, fallback: number, max: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(`sharedSignals.${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function span(name: string, value: Duration | undefined, fallback: string, minMs: number, maxMs: number): number {
  const ms = Math.round(parseDuration(value ?? fallback, `sharedSignals.${name}`) * 1000);
  if (ms < minMs || ms > maxMs) throw new ConfigError(`sharedSignals.${name} must be from ${minMs} ms to ${maxMs} ms, got ${JSON.stringify(value)}`);
  return ms;
}

const second = 1000;
const day = 86_400_000;

/** Checks and defaults the options once, at startup; throws a `ConfigError` naming the field. */
export function resolveSharedSignals(options: SharedSignalsOptions | undefined): SsfSettings {
  const o = options ?? {};
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') throw new ConfigError('sharedSignals.enabled must be true or false');
  const defaultSubjects = o.defaultSubjects ?? 'ALL';
  if (defaultSubjects !== 'ALL' && defaultSubjects !== 'NONE') throw new ConfigError(`sharedSignals.defaultSubjects must be ALL or NONE, got ${JSON.stringify(defaultSubjects)}`);
  return Object.freeze({
    enabled: o.enabled === true,
    defaultSubjects,
    maxStreamsPerClient: count('maxStreamsPerClient', o.maxStreamsPerClient, 5, 1000),
    maxSubjectsPerStream: count('maxSubjectsPerStream', o.maxSubjectsPerStream, 10_000, 1_000_000),
    maxBacklog: count('maxBacklog', o.maxBacklog, 10_000, 10_000_000),
    setLifetimeMs: span('setLifetime', o.setLifetime, '7d', 60 * second, 90 * day),
    retryDelayMs: span('retryDelay', o.retryDelay, '1s', 10, 10 * 60 * second),
    pushLeaseMs: span('pushLease', o.pushLease, '30s', second, 10 * 60 * second),
    pushTimeoutMs: span('pushTimeout', o.pushTimeout, '10s', 100, 120 * second),
    outboxPollMs: span('outboxPollInterval', o.outboxPollInterval, '1s', 10, 60 * second),
    longPollMs: span('longPollTimeout', o.longPollTimeout, '30s', 100, 120 * second),
    allowInsecureEndpoints: o.allowInsecureEndpoints === true,
  });
}
