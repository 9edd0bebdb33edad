import assert from 'node:assert/strict';
import { test } from 'node:test';
import { concurrencyLimit } from '../../src/core/concurrency-limit.ts';
import { createArgon2Hasher } from '../../src/core/password.ts';

/** A task that stays running until released, recording how many run at once. */
function gatedTasks() {
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  const gates: Array<() => void> = [];
  const task = (n: number) => async () => {
    active++;
    peak = Math.max(peak, active);
    order.push(n);
    await new Promise<void>((resolve) => gates.push(resolve));
    active--;
    return n;
  };
  return { task, gates, order, get peak() { return peak; } };
}

const settle = () => new Promise((r) => setImmediate(r));

test('no more than the limit run at once, and the waiting ones start in arrival order', async () => {
  const limited = concurrencyLimit(2);
  const g = gatedTasks();
  const all = Promise.all([1, 2, 3, 4, 5].map((n) => limited(g.task(n))));
  await settle();
  assert.deepEqual(g.order, [1, 2]);
  while (g.gates.length > 0) {
    g.gates.shift()!();
    await settle();
  }
  assert.deepEqual(await all, [1, 2, 3, 4, 5]);
  assert.deepEqual(g.order, [1, 2, 3, 4, 5]);
  assert.equal(g.peak, 2);
});

test('a failing task frees its slot', async () => {
  const limited = concurrencyLimit(1);
  await assert.rejects(limited(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await limited(async () => 'next'), 'next');
});

test('the limit must be a whole number of at least one', () => {
  assert.throws(() => concurrencyLimit(0), RangeError);
  assert.throws(() => concurrencyLimit(1.5), RangeError);
});

test('the argon2 hasher still hashes and verifies through its queue', async () => {
  const hasher = createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }, { maxConcurrent: 1 });
  const hashes = await Promise.all(['one password 1', 'two password 2'].map((p) => hasher.hash(p)));
  assert.deepEqual(await Promise.all([hasher.verify(hashes[0]!, 'one password 1'), hasher.verify(hashes[1]!, 'wrong'), hasher.verify('garbage', 'x')]), [true, false, false]);
});
