import type { Logger } from './config.ts';
import { parseDuration } from './duration.ts';
import { ConfigError, fail, ok, type Result } from './errors.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** At most `limit` attempts per `window` (a duration such as `15m`). */
export interface RateLimit {
  readonly limit: number;
  readonly window: string | number;
}

/** Which attempts are limited, and how much; `false` turns a rule off. */
export interface RateLimitOptions {
  /**
   * Sign-in attempts per account (by email, existing or not) *and client* (a known device, else
   * the IP). Default 10 per 15m; reset by a success from that client. Attempts from other clients
   * never count here, so nobody else can use up an owner's attempts.
   */
  readonly loginPerAccount?: RateLimit | false;
  /**
   * Sign-in attempts per account from all clients but known devices. Default 100 per 15m. Over it
   * (a guesser spread over many IPs), only known devices and clients with no recent attempt on the
   * account are let through to the password check.
   */
  readonly loginPerAccountAllClients?: RateLimit | false;
  /** Sign-in attempts per client IP. Default 100 per 15m. */
  readonly loginPerIp?: RateLimit | false;
  /** Registrations per client IP. Default 20 per 1h. */
  readonly registerPerIp?: RateLimit | false;
  /** Refreshes per client IP. Default 600 per 1m. */
  readonly refreshPerIp?: RateLimit | false;
  /**
   * Requests that mail an address (password reset, sign-in link, verification), per address,
   * whether it has an account or not. Default 5 per 1h.
   */
  readonly mailPerAccount?: RateLimit | false;
  /** Requests that mail an address, per client IP. Default 30 per 1h. */
  readonly mailPerIp?: RateLimit | false;
}

export type RateLimitRule = keyof RateLimitOptions;

const defaults: Record<RateLimitRule, RateLimit> = {
  loginPerAccount: { limit: 10, window: '15m' },
  loginPerAccountAllClients: { limit: 100, window: '15m' },
  loginPerIp: { limit: 100, window: '15m' },
  registerPerIp: { limit: 20, window: '1h' },
  refreshPerIp: { limit: 600, window: '1m' },
  mailPerAccount: { limit: 5, window: '1h' },
  mailPerIp: { limit: 30, window: '1h' },
};

/** Resolved rules: limit and window in ms, or null when off. */
export type ResolvedRateLimits = Readonly<Record<RateLimitRule, { limit: number; windowMs: number } | null>>;

/** Validates rate-limit options (`false` turns every rule off). */
export function resolveRateLimits(options: RateLimitOptions | false | undefined): ResolvedRateLimits {
  const out = {} as Record<RateLimitRule, { limit: number; windowMs: number } | null>;
  for (const rule of Object.keys(defaults) as RateLimitRule[]) {
    const given = options === false ? false : (options?.[rule] ?? defaults[rule]);
    if (given === false) {
      out[rule] = null;
      continue;
    }
    if (!Number.isInteger(given.limit) || given.limit < 1) throw new ConfigError(`rateLimits.${rule}.limit must be a whole number ≥ 1`);
    const windowMs = parseDuration(given.window, `rateLimits.${rule}.window`) * 1000;
    if (windowMs < 1000) throw new ConfigError(`rateLimits.${rule}.window must be at least 1s`);
    out[rule] = { limit: given.limit, windowMs };
  }
  return Object.freeze(out);
}

/**
 * Applies the rules through a limiter. When the limiter fails (Redis down), the attempt is
 * counted by an in-process fallback instead, so limits hold per instance rather than vanish.
 */
export class RateLimits {
  readonly #rules: ResolvedRateLimits;
  readonly #limiter: RateLimiter;
  readonly #fallback: RateLimiter;
  readonly #logger: Logger | undefined;

  constructor(rules: ResolvedRateLimits, limiter: RateLimiter, fallback: RateLimiter, logger?: Logger) {
    this.#rules = rules;
    this.#limiter = limiter;
    this.#fallback = fallback;
    this.#logger = logger;
  }

  /** The limiter key of `name` for `subject`. */
  static #key(name: RateLimitRule | 'loginSpacing', subject: string): string {
    return `${name}:${subject}`;
  }

  /** One attempt (or a look) through the shared limiter, or, when it fails, the in-process one. */
  async #ask(op: 'hit' | 'peek', key: string, limit: number, windowMs: number, now: number) {
    try {
      return await this.#limiter[op](key, limit, windowMs, now);
    } catch (err) {
      this.#logger?.warn({ err: { message: (err as Error).message } }, 'tokenstile: shared rate limiter failed; counting in this process');
      return this.#fallback[op](key, limit, windowMs, now);
    }
  }

  #hit(key: string, limit: number, windowMs: number, now: number) {
    return this.#ask('hit', key, limit, windowMs, now);
  }

  /**
   * Counts an attempt under `rule` for `subject` (an IP, an email); `too_many_requests` when over,
   * else how many attempts the window now holds (0 when the rule is off).
   */
  async check(rule: RateLimitRule, subject: string | null | undefined, now: number): Promise<Result<number, 'too_many_requests'>> {
    const r = this.#rules[rule];
    if (!r || !subject) return ok(0);
    const decision = await this.#hit(RateLimits.#key(rule, subject), r.limit, r.windowMs, now);
    return decision.allowed ? ok(r.limit - decision.remaining) : fail('too_many_requests', decision.retryAfterMs);
  }

  /**
   * Like `check`, but counts nothing: `too_many_requests` when an attempt now would be over, else
   * how many attempts the window holds (0 when the rule is off).
   */
  async peek(rule: RateLimitRule, subject: string | null | undefined, now: number): Promise<Result<number, 'too_many_requests'>> {
    const r = this.#rules[rule];
    if (!r || !subject) return ok(0);
    const decision = await this.#ask('peek', RateLimits.#key(rule, subject), r.limit, r.windowMs, now);
    return decision.allowed ? ok(r.limit - decision.remaining) : fail('too_many_requests', decision.retryAfterMs);
  }

  /**
   * Admits at most one attempt per `spacingMs` for `subject` (the progressive spacing of failed
   * sign-ins of an account and client); `too_many_requests` with the wait otherwise.
   */
  async space(subject: string, spacingMs: number, now: number): Promise<Result<void, 'too_many_requests'>> {
    const decision = await this.#hit(RateLimits.#key('loginSpacing', subject), 1, spacingMs, now);
    return decision.allowed ? ok(undefined) : fail('too_many_requests', decision.retryAfterMs);
  }

  /** Clears a sign-in counter and spacing (after a successful sign-in). Best effort. */
  async resetAccount(subject: string): Promise<void> {
    const keys = [RateLimits.#key('loginPerAccount', subject), RateLimits.#key('loginSpacing', subject)];
    await Promise.allSettled(keys.flatMap((k) => [this.#limiter.reset(k), this.#fallback.reset(k)]));
  }
}

/**
 * The spacing the next sign-in attempt of an account and client must keep after `failures`
 * failures within the window: none for the first three, then 250 ms doubling to at most 4 s. An
 * attempt sooner is refused with 429 and Retry-After whatever its password, so the spacing cannot
 * be skipped by hanging up early or sending in parallel. It depends only on the counter, so it is
 * the same for an email that exists and one that does not.
 */
export function failedLoginSpacingMs(failures: number): number {
  return failures < 3 ? 0 : Math.min(250 * 2 ** (failures - 3), 4000);
}
