// Heap bytes per live entry of the in-memory revocation list, at 100k and 1M entries, with the
// session ids as the feed delivers them (flat strings from JSON.parse), counted in full.
//   node --expose-gc bench/revocation-memory.ts
import { uuidv7 } from '../src/core/ids.ts';
import { RevocationList } from '../src/core/revocation-list.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const now = Date.now();
const rows: string[] = [];
for (const n of [100_000, 1_000_000]) {
  // One feed message's worth of JSON per 1,000 revocations, parsed as the subscriber does.
  const batches: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    batches.push(JSON.stringify(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ kind: 'session', id: uuidv7(now - i - k), userId: 'u', revokedAt: now, expiresAt: now + 1_260_000 + i + k }))));
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  const list = new RevocationList();
  for (const batch of batches) for (const r of JSON.parse(batch)) list.add(r, now);
  gc();
  const perEntry = (process.memoryUsage().heapUsed - before) / n;
  if (list.size !== n || batches.length === 0) throw new Error('size mismatch'); // keeps `batches` alive until measured
  rows.push(`| ${n.toLocaleString('en-US')} | ${perEntry.toFixed(0)} B |`);
}
console.log(`| live revocations | heap per entry (id string included) |\n|---|---|\n${rows.join('\n')}`);
