// A test-only feature written as a real one would be (docs/embedding.md, "Writing a feature"): its
// own tables (migrations per dialect), error codes, routes, a sign-in gate, and the kit's
// one-time tokens and revocation. test/features/memo-feature.test.ts drives it over HTTP on every
// adapter and backend; nothing in src/ knows about it.
import type { IssuedTokens } from '../../src/core/context.ts';
import { featureApi, type CoreFeature, type FeatureKit } from '../../src/core/feature.ts';
import type { FeatureEntry } from '../../src/features/feature-entry.ts';
import { authOf } from '../../src/http/authenticate.ts';
import { sendProblem } from '../../src/http/problem.ts';
import { device } from '../../src/http/request-device.ts';
import { errorResponses, type RouteFactory } from '../../src/http/routes/route-context.ts';
import * as s from '../../src/http/schemas.ts';
import { defineCodes } from '../../src/protocol/error-codes.ts';
import type { ErrorCode } from '../../src/core/errors.ts';

/** Sign-ins of emails starting with this are held until a memo token is redeemed. */
export const heldPrefix = 'held.';
export const memoPurpose = 'memo_unhold';

export const memoCodes = defineCodes({
  memo_hold: { status: 403, title: 'This sign-in is held: redeem the memo token.' },
  memo_invalid: { status: 401, title: 'The memo token is wrong, spent or expired.' },
});

/** What the memo feature's core half offers its routes (and tests, through `featureApi`). */
export interface MemoApi {
  addNote(userId: string, body: string): Promise<void>;
  notes(userId: string): Promise<string[]>;
  /** Consumes a memo token and starts the held session; null when the token is not (or no longer) good. */
  redeem(token: string, amr: readonly string[]): Promise<IssuedTokens | null>;
  /** Ends the user's other sessions through the kit (acknowledged revocation). */
  endOthers(userId: string, sessionId: string): Promise<number>;
  /** How many times the purge timer ran the feature's purge. */
  readonly purges: number;
}

const migrations = {
  sqlite: [
    { name: '0001_notes', sql: 'CREATE TABLE memo_notes (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, body TEXT NOT NULL) STRICT' },
    { name: '0002_notes_at', sql: 'ALTER TABLE memo_notes ADD COLUMN at INTEGER NOT NULL DEFAULT 0' },
  ],
  postgres: [
    { name: '0001_notes', sql: 'CREATE TABLE memo_notes (id bigserial PRIMARY KEY, user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE, body text NOT NULL)' },
    { name: '0002_notes_at', sql: 'ALTER TABLE memo_notes ADD COLUMN at bigint NOT NULL DEFAULT 0' },
  ],
};

function memoApi(kit: FeatureKit): MemoApi {
  const sql = kit.db.dialect === 'sqlite'
    ? { insert: 'INSERT INTO memo_notes (user_id, body, at) VALUES (?, ?, ?)', list: 'SELECT body FROM memo_notes WHERE user_id = ? ORDER BY id' }
    : { insert: 'INSERT INTO memo_notes (user_id, body, at) VALUES ($1, $2, $3)', list: 'SELECT body FROM memo_notes WHERE user_id = $1 ORDER BY id' };
  let purges = 0;
  kit.addPurge(async () => void purges++);
  kit.addSignInGate(async ({ user, device: from }) => {
    if (!user.email.startsWith(heldPrefix)) return null;
    const memoToken = await kit.oneTimeTokens.issue({ purpose: memoPurpose, userId: user.id, data: { userAgent: from.userAgent ?? null }, ttlMs: 5 * 60_000, replace: true });
    return { code: 'memo_hold', details: { memoToken, methods: ['memo'] } };
  });
  return {
    async addNote(userId, body) {
      // Two statements that stand or fall together.
      await kit.db.transaction(async (db) => {
        await db.execute(sql.insert, [userId, body, kit.clock.now()]);
        await db.execute(sql.insert, [userId, `${body} (copy)`, kit.clock.now()]);
      });
    },
    notes: async (userId) => (await kit.db.query<{ body: string }>(sql.list, [userId])).map((r) => r.body),
    async redeem(token, amr) {
      const consumed = await kit.oneTimeTokens.consume(memoPurpose, token);
      const user = consumed?.userId ? await kit.stores.users.byId(consumed.userId) : null;
      if (!user || user.disabledAt !== null) return null;
      return kit.startSession(user, amr, { userAgent: (consumed!.data as { userAgent: string | null }).userAgent });
    },
    async endOthers(userId, sessionId) {
      return (await kit.revoke({ userId, exceptSessionId: sessionId }, 'memo_end_others')).length;
    },
    get purges() {
      return purges;
    },
  };
}

export const memoFeature: CoreFeature<MemoApi> = { name: 'memo', migrations, setup: memoApi };

const memoRoutes: RouteFactory = ({ core }) => {
  const api = () => featureApi(core, memoFeature);
  const json = { group: 'api', body: 'json' } as const;
  const tags = ['memo'];
  return {
    routes: [
      {
        ...json,
        method: 'POST',
        url: '/memo/redeem',
        schema: { tags, summary: 'Redeem a memo token', body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', maxLength: 100 } } }, response: { 200: s.tokenResponse, ...errorResponses(400, 401) } },
        handler: async (request, reply) => {
          const issued = await api().redeem((request.body as { token: string }).token, ['pwd', 'otp', 'mfa']);
          if (issued === null) return sendProblem(reply, 'memo_invalid' as ErrorCode);
          return issued;
        },
      },
      {
        ...json,
        method: 'POST',
        url: '/memo/notes',
        authenticate: true,
        schema: { tags, summary: 'Add a note', body: { type: 'object', additionalProperties: false, required: ['body'], properties: { body: { type: 'string', maxLength: 200 } } }, response: { 204: s.noContent, ...errorResponses(400, 401) } },
        handler: async (request, reply) => {
          await api().addNote(authOf(request).userId, (request.body as { body: string }).body);
          return reply.code(204).send();
        },
      },
      {
        ...json,
        method: 'GET',
        url: '/memo/notes',
        authenticate: true,
        schema: { tags, summary: 'The caller\'s notes', response: { 200: { type: 'object', properties: { notes: { type: 'array', items: { type: 'string' } } } }, ...errorResponses(401) } },
        handler: async (request) => ({ notes: await api().notes(authOf(request).userId), device: device(request).userAgent }),
      },
      {
        ...json,
        method: 'POST',
        url: '/memo/end-others',
        authenticate: true,
        schema: { tags, summary: 'End the caller\'s other sessions', response: { 200: { type: 'object', properties: { ended: { type: 'integer' } } }, ...errorResponses(401) } },
        handler: async (request) => {
          const auth = authOf(request);
          return { ended: await api().endOthers(auth.userId, auth.sessionId) };
        },
      },
    ],
  };
};

/** The registry entry an embedder would add to its `features` list. */
export const memoEntry: FeatureEntry = { name: 'memo', core: memoFeature, codes: memoCodes, routes: memoRoutes };
