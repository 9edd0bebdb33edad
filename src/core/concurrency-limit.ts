/**
 * Runs at most `limit` tasks at once; the others wait their turn, first come first served.
 *
 * @example
 * ```ts
 * const limited = concurrencyLimit(1);
 * await Promise.all([limited(() => slowA()), limited(() => slowB())]); // B starts when A settles
 * ```
 */
export function concurrencyLimit(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a whole number ≥ 1, got ${limit}`);
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return async (task) => {
    if (active < limit) active++;
    // A released slot passes straight to the next waiter (active stays the same).
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      release();
    }
  };
}
