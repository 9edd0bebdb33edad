import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditQueue, type AuditEntry, type AuditLog } from '../../src/core/audit-log.ts';

const entry = (n: number): AuditEntry => ({ at: n, type: 'session_revoked', userId: 'u', sessionId: `s${n}`, ip: null, userAgent: null, detail: {} });

function recordingLog(fail = false): AuditLog & { batches: AuditEntry[][] } {
  const batches: AuditEntry[][] = [];
  return {
    batches,
    append: async (entries) => {
      if (fail) throw new Error('store down');
      batches.push([...entries]);
    },
    query: async () => [],
    purge: async () => 0,
  };
}

test('a burst of entries is written as one batch, in order, off the caller’s path', async () => {
  const log = recordingLog();
  const queue = new AuditQueue(log);
  for (let i = 0; i < 50; i++) queue.push(entry(i));
  assert.equal(log.batches.length, 0, 'nothing written synchronously');
  await new Promise((r) => setImmediate(r));
  await queue.flush();
  assert.equal(log.batches.length, 1);
  assert.deepEqual(log.batches[0]!.map((e) => e.at), Array.from({ length: 50 }, (_, i) => i));
});

test('flush writes what is queued (close() uses it), and a failing store loses the batch without throwing', async () => {
  const log = recordingLog();
  const queue = new AuditQueue(log);
  queue.push(entry(1));
  await queue.flush();
  assert.equal(log.batches.length, 1);
  const warnings: object[] = [];
  const broken = new AuditQueue(recordingLog(true), { warn: (o) => void warnings.push(o) });
  broken.push(entry(2));
  await broken.flush();
  assert.equal(warnings.length, 1);
});

test('while the store is slow, memory is bounded: entries past 10,000 are dropped and counted', async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const batches: number[] = [];
  const slow: AuditLog = { append: async (e) => void (await gate, batches.push(e.length)), query: async () => [], purge: async () => 0 };
  const warnings: Array<{ dropped?: number }> = [];
  const queue = new AuditQueue(slow, { warn: (o) => void warnings.push(o as { dropped?: number }) });
  queue.push(entry(0));
  const first = queue.flush(); // the write hangs
  for (let i = 0; i < 10_005; i++) queue.push(entry(i));
  release();
  await first;
  await queue.flush();
  assert.deepEqual(batches, [1, 10_000]);
  assert.ok(warnings.some((w) => w.dropped === 5));
});
