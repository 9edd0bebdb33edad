import type { Revocation } from '../../core/revocation.ts';
import type { Query } from './postgres-database.ts';

/**
 * The revocation feed on PostgreSQL, and why its cursor is not just "the last seq seen".
 *
 * A `bigserial` value is taken when a row is inserted but becomes visible when its transaction
 * commits, so seq 10 can be visible while seq 9 is still in flight. A poller that moved past 10
 * would never see 9. The cursor therefore remembers the holes below the highest seq it has read
 * and asks for them again on every poll.
 *
 * A hole is given up only when it can no longer fill: each hole records the `xmax` of the
 * snapshot in which it was first seen (every transaction that could fill it has a lower id), and
 * it is dropped once a poll's snapshot has `xmin` at or above that (every such transaction has
 * committed, and its row would be in that very poll's read, or rolled back). The rows and the
 * snapshot come from one statement, so they agree. No clock is involved: a commit that takes an
 * hour is still delivered, and a rolled-back insert stops holding the cursor at once.
 *
 * Storing the holes as ranges keeps the cursor small whatever the burst, and each poll reads only
 * the holes and what lies above `top`. revoke() keeps the window short: the UPDATE takes every
 * row lock first, and the INSERT that draws the seqs runs just before COMMIT.
 */

/** Most rows read per poll. */
const feedBatch = 10_000;
/**
 * A cursor made at start (null cursor) also looks at this many seqs below the current maximum
 * for holes: an insert committing right then would otherwise be in neither the cursor's future
 * nor the snapshot of live revocations taken next.
 */
const startWindow = 1_000;

/** Seqs `from`..`to` (inclusive) not yet seen; `xmax` of the snapshot that first saw them missing. */
interface Gap {
  readonly from: number;
  readonly to: number;
  readonly xmax: number;
}

interface FeedCursor {
  /** The highest seq read. */
  readonly top: number;
  /** Ascending, disjoint, all below `top`. */
  readonly gaps: readonly Gap[];
}

/** The transaction horizon of the snapshot a poll read with. */
interface Snapshot {
  /** No transaction below this is in progress. */
  readonly xmin: number;
  /** Every transaction in progress is below this. */
  readonly xmax: number;
}

interface FeedRow {
  seq: number | null;
  subject: string;
  user_id: string;
  revoked_at: number;
  expires_at: number;
  snap_xmin: number;
  snap_xmax: number;
}

function encode(c: FeedCursor): string {
  return JSON.stringify({ v: 2, top: c.top, gaps: c.gaps.map((g) => [g.from, g.to, g.xmax]) });
}

function decode(text: string): FeedCursor {
  const bad = () => new TypeError('not a revocation cursor of the PostgreSQL store');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad();
  }
  const { v, top, gaps } = (raw ?? {}) as { v?: unknown; top?: unknown; gaps?: unknown };
  if (v !== 2 || !Number.isSafeInteger(top) || !Array.isArray(gaps)) throw bad();
  const parsed = gaps.map((g: unknown) => {
    if (!Array.isArray(g) || g.length !== 3 || !g.every((n) => Number.isSafeInteger(n))) throw bad();
    const [from, to, xmax] = g as [number, number, number];
    return { from, to, xmax };
  });
  return { top: top as number, gaps: parsed };
}

/**
 * The cursor after reading `seqs` (ascending; each above `top` or inside a hole) with `snap`.
 * Holes shrink as their rows arrive; new holes open between `top` and the new rows. A hole is
 * dropped once no transaction that could fill it is in progress, but only where this read looked:
 * past a full batch nothing is known.
 */
function advance(cursor: FeedCursor, seqs: readonly number[], snap: Snapshot, complete: boolean): FeedCursor {
  const last = seqs.at(-1) ?? cursor.top;
  const gaps: Gap[] = [];
  const keep = (from: number, to: number, xmax: number) => {
    if (from > to) return;
    const examined = complete || to < last;
    if (examined && snap.xmin >= xmax) return;
    gaps.push({ from, to, xmax });
  };
  let i = 0;
  for (const g of cursor.gaps) {
    let from = g.from;
    while (i < seqs.length && seqs[i]! < g.from) i++;
    for (; i < seqs.length && seqs[i]! <= g.to; i++) {
      keep(from, seqs[i]! - 1, g.xmax);
      from = seqs[i]! + 1;
    }
    keep(from, g.to, g.xmax);
  }
  let top = cursor.top;
  for (const s of seqs) {
    if (s <= top) continue;
    keep(top + 1, s - 1, snap.xmax);
    top = s;
  }
  return { top, gaps };
}

/** The statement's snapshot horizon, as columns to put beside the rows read in the same statement. */
const snapshotColumns = `pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snap_xmin,
  pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS snap_xmax`;

function snapshotOf(rows: readonly FeedRow[]): Snapshot {
  const first = rows[0];
  if (!first) throw new Error('the revocation feed query returned no snapshot row');
  return { xmin: Number(first.snap_xmin), xmax: Number(first.snap_xmax) };
}

/** A cursor at the newest revocation, still waiting for in-flight holes just below it. */
async function startCursor(query: Query): Promise<string> {
  // A LEFT JOIN from the snapshot row, so there is one row even when the table is empty.
  const { rows } = await query<FeedRow>(
    `SELECT r.seq, ${snapshotColumns}
       FROM (SELECT 1) AS one
       LEFT JOIN revocations r ON r.seq > (SELECT COALESCE(MAX(seq), 0) FROM revocations) - $1
      ORDER BY r.seq`,
    [startWindow],
  );
  const seqs = rows.flatMap((r) => (r.seq === null ? [] : [Number(r.seq)]));
  const top = seqs.at(-1) ?? 0;
  return encode(advance({ top: Math.max(0, top - startWindow), gaps: [] }, seqs, snapshotOf(rows), true));
}

/** `SessionStore.revocationsSince` for PostgreSQL: see the comment at the top of this file. */
export async function revocationsSince(
  query: Query,
  cursor: string | null,
  now: number,
): Promise<{ revocations: Revocation[]; cursor: string; more: boolean }> {
  if (cursor === null) return { revocations: [], cursor: await startCursor(query), more: false };
  const from = decode(cursor);
  const { rows } = await query<FeedRow>(
    `WITH found AS (
       SELECT seq, subject, user_id, revoked_at, expires_at FROM revocations WHERE seq > $1
       UNION ALL
       SELECT r.seq, r.subject, r.user_id, r.revoked_at, r.expires_at
         FROM unnest($2::bigint[], $3::bigint[]) AS g (lo, hi)
         JOIN revocations r ON r.seq BETWEEN g.lo AND g.hi
       ORDER BY seq LIMIT $4)
     SELECT found.*, ${snapshotColumns} FROM (SELECT 1) AS one LEFT JOIN found ON true ORDER BY found.seq`,
    [from.top, from.gaps.map((g) => g.from), from.gaps.map((g) => g.to), feedBatch],
  );
  const read = rows.filter((r) => r.seq !== null);
  const next = advance(from, read.map((r) => Number(r.seq)), snapshotOf(rows), read.length < feedBatch);
  // Expired rows are not delivered, but they are read, so they still close their holes.
  const revocations = read
    .filter((r) => r.expires_at > now)
    .map((r): Revocation => ({ kind: 'session', id: r.subject, userId: r.user_id, revokedAt: r.revoked_at, expiresAt: r.expires_at }));
  return { revocations, cursor: encode(next), more: read.length >= feedBatch };
}
