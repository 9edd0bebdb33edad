import type { SigningAlgorithm } from '../core/keys.ts';
import { JwkSetKeys } from './jwks-keys.ts';
import { describeError } from './revocation-stream-client.ts';
import { VerifierUnavailableError } from './verify-errors.ts';

type JwksReport = (event: { type: 'jwks_fetched'; keys: number } | { type: 'jwks_error'; message: string }) => void;

/** While no key set was ever fetched, fetches are at most this often (the auth server may be down). */
const initialRetryMs = 1000;

/** Fetches a JWKS and keeps it, refetching when old or when a token names an unknown `kid`. */
export class JwksCache {
  readonly #url: string;
  readonly #algorithms: readonly SigningAlgorithm[];
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #cooldownMs: number;
  readonly #maxAgeMs: number;
  readonly #report: JwksReport;
  #keys: JwkSetKeys | null = null;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #lastUnknownKid = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<void> | null = null;
  #lastError: Error | null = null;

  constructor(o: {
    url: string;
    algorithms: readonly SigningAlgorithm[];
    fetch: typeof fetch;
    now: () => number;
    cooldownMs: number;
    maxAgeMs: number;
    report: JwksReport;
  }) {
    this.#url = o.url;
    this.#algorithms = o.algorithms;
    this.#fetch = o.fetch;
    this.#now = o.now;
    this.#cooldownMs = o.cooldownMs;
    this.#maxAgeMs = o.maxAgeMs;
    this.#report = o.report;
  }

  /**
   * The keys to verify a token with `kid`. Fetches on first use; refetches (at most once per
   * cooldown, shared by concurrent callers) when `kid` is unknown, so a rotated-in key is found
   * without a restart; refreshes in the background when the set is older than its max age.
   * Throws `VerifierUnavailableError` when no key set could ever be fetched.
   */
  async keysFor(kid: string | null): Promise<JwkSetKeys> {
    const now = this.#now();
    if (this.#keys === null) {
      if (this.#inFlight || now - this.#lastAttempt >= Math.min(initialRetryMs, this.#cooldownMs)) await this.#refresh();
    } else if (kid !== null && !this.#keys.has(kid) && now - this.#lastUnknownKid >= this.#cooldownMs) {
      this.#lastUnknownKid = now;
      await this.#refresh();
    } else if (now - this.#fetchedAt > this.#maxAgeMs && now - this.#lastAttempt >= this.#cooldownMs) {
      void this.#refresh();
    }
    if (this.#keys === null) throw new VerifierUnavailableError('The signing keys could not be fetched from the auth server.');
    return this.#keys;
  }

  /** The URL the keys come from. */
  get url(): string {
    return this.#url;
  }

  /** Why the last fetch failed, or null once one succeeded. */
  get lastError(): Error | null {
    return this.#lastError;
  }

  /**
   * The keys, fetched now if none were ever fetched (joining a fetch under way), whatever the
   * cooldown: for `ready()`, which paces its own retries. Null when the fetch failed.
   */
  async load(): Promise<JwkSetKeys | null> {
    if (this.#keys === null) await this.#refresh();
    return this.#keys;
  }

  #refresh(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#lastAttempt = this.#now();
    const run = (async () => {
      try {
        const res = await this.#fetch(this.#url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`JWKS answered ${res.status}`);
        const keys = new JwkSetKeys(await res.json(), this.#algorithms);
        this.#keys = keys;
        this.#lastError = null;
        this.#fetchedAt = this.#now();
        this.#report({ type: 'jwks_fetched', keys: keys.size });
      } catch (err) {
        this.#lastError = err instanceof Error ? err : new Error(String(err));
        this.#report({ type: 'jwks_error', message: describeError(err) });
      }
    })();
    this.#inFlight = run.finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }
}
