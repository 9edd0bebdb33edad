import type { Revocation } from '../../core/revocation.ts';
import type { Query } from './postgres-database.ts';

/**
 * The revocation feed on PostgreSQL, and why its cursor is not just "the last seq seen".
 *
 * A `bigserial` value is taken when a row is inserted but becomes visible when its transaction
 * commits, so seq 10 can be visible while seq 9 is still in flight. A poller that moved past 10
 * would never see 9. The cursor therefore remembers the holes below the highest seq it has read,
 * each with the time (the `now` of the poll) it was first seen, and asks for them again on every
 * poll. A hole is waited for `gapPatienceMs`; after that it is taken to be a rolled-back insert
 * (those leave permanent holes), or a row purged before it was read, and dropped.
 *
 * In the terms of a watermark: everything at or below `W = first hole - 1` (or `top` when there is
 * none) is settled, and every seq between W and `top` that is not a hole has been delivered.
 * Storing the holes as ranges instead of the delivered set keeps the cursor small whatever the
 * burst, and each poll reads only the holes and what lies above `top`.
 *
 * revoke() keeps the window short: the UPDATE takes every row lock first, and the INSERT that
 * draws the seqs runs just before COMMIT.
 */

/** How long a hole in the sequence may hold back the feed before it is given up (ms of `now`). */
export const gapPatienceMs = 10_000;
/** Most rows read per poll. */
const feedBatch = 10_000;
/**
 * A cursor made at start (null cursor) also waits for holes among this many seqs below the
 * current maximum: an insert committing right then would otherwise be in neither the cursor's
 * future nor the snapshot of live revocations taken next.
 */
const startWindow = 1_000;

/** Seqs `from`..`to` (inclusive) not yet seen; first noticed at `since`. */
interface Gap {
  readonly from: number;
  readonly to: number;
  readonly since: number;
}

interface FeedCursor {
  /** The highest seq read. */
  readonly top: number;
  /** Ascending, disjoint, all below `top`. */
  readonly gaps: readonly Gap[];
}

interface FeedRow {
  seq: number;
  subject: string;
  user_id: string;
  revoked_at: number;
  expires_at: number;
}

function encode(c: FeedCursor): string {
  return JSON.stringify({ v: 1, top: c.top, gaps: c.gaps.map((g) => [g.from, g.to, g.since]) });
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
  if (v !== 1 || !Number.isSafeInteger(top) || !Array.isArray(gaps)) throw bad();
  const parsed = gaps.map((g: unknown) => {
    if (!Array.isArray(g) || g.length !== 3 || !g.every((n) => Number.isSafeInteger(n))) throw bad();
    const [from, to, since] = g as [number, number, number];
    return { from, to, since };
  });
  return { top: top as number, gaps: parsed };
}

/**
 * The cursor after reading `seqs` (ascending; each above `top` or inside a hole). Holes shrink as
 * their rows arrive; new holes open between `top` and the new rows. A hole is dropped once it has
 * waited `gapPatienceMs`, but only where this read looked: past a full batch nothing is known.
 */
function advance(cursor: FeedCursor, seqs: readonly number[], now: number, complete: boolean): FeedCursor {
  const last = seqs.at(-1) ?? cursor.top;
  const gaps: Gap[] = [];
  const keep = (from: number, to: number, since: number) => {
    if (from > to) return;
    const examined = complete || to < last;
    if (examined && now - since >= gapPatienceMs) return;
    gaps.push({ from, to, since });
  };
  let i = 0;
  for (const g of cursor.gaps) {
    let from = g.from;
    while (i < seqs.length && seqs[i]! < g.from) i++;
    for (; i < seqs.length && seqs[i]! <= g.to; i++) {
      keep(from, seqs[i]! - 1, g.since);
      from = seqs[i]! + 1;
    }
    keep(from, g.to, g.since);
  }
  let top = cursor.top;
  for (const s of seqs) {
    if (s <= top) continue;
    keep(top + 1, s - 1, now);
    top = s;
  }
  return { top, gaps };
}

/** A cursor at the newest revocation, still waiting briefly for holes just below it. */
async function startCursor(query: Query, now: number): Promise<string> {
  const { rows } = await query<{ seq: number }>(
    `SELECT seq FROM revocations
      WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM revocations) - $1 ORDER BY seq`,
    [startWindow],
  );
  const top = rows.at(-1)?.seq ?? 0;
  return encode(advance({ top: Math.max(0, top - startWindow), gaps: [] }, rows.map((r) => r.seq), now, true));
}

/** `SessionStore.revocationsSince` for PostgreSQL: see the comment at the top of this file. */
export async function revocationsSince(
  query: Query,
  cursor: string | null,
  now: number,
): Promise<{ revocations: Revocation[]; cursor: string }> {
  if (cursor === null) return { revocations: [], cursor: await startCursor(query, now) };
  const from = decode(cursor);
  const { rows } = await query<FeedRow>(
    `SELECT seq, subject, user_id, revoked_at, expires_at FROM revocations WHERE seq > $1
     UNION ALL
     SELECT r.seq, r.subject, r.user_id, r.revoked_at, r.expires_at
       FROM unnest($2::bigint[], $3::bigint[]) AS g (lo, hi)
       JOIN revocations r ON r.seq BETWEEN g.lo AND g.hi
     ORDER BY seq LIMIT $4`,
    [from.top, from.gaps.map((g) => g.from), from.gaps.map((g) => g.to), feedBatch],
  );
  const next = advance(from, rows.map((r) => r.seq), now, rows.length < feedBatch);
  // Expired rows are not delivered, but they are read, so they still close their holes.
  const revocations = rows
    .filter((r) => r.expires_at > now)
    .map((r): Revocation => ({ kind: 'session', id: r.subject, userId: r.user_id, revokedAt: r.revoked_at, expiresAt: r.expires_at }));
  return { revocations, cursor: encode(next) };
}
