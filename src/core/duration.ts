import { ConfigError } from './errors.ts';

/** A duration: seconds as a number, or text such as `90s`, `15m`, `1h`, `7d`. */
export type Duration = string | number;

const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration such as `90s`, `15m`, `1h`, `7d` or `1500ms` (a bare number means seconds)
 * into seconds. Throws `ConfigError` naming `what` when the value is not a duration.
 */
export function parseDuration(value: Duration, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new ConfigError(`${what} must be a non-negative number of seconds, got ${value}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) {
    throw new ConfigError(`${what} must be a duration like 90s, 15m, 1h or 7d, got ${JSON.stringify(value)}`);
  }
  return Number(match[1]) * (units[match[2] ?? 's'] ?? 1);
}
