// The app's own API: the caller's notes. `protect` (Tokenstile's `withAuth`) checks the request exactly as Tokenstile's
// protected routes are checked (Bearer token, or the cookie transport with its CSRF checks; a
// logged-out session is refused at once with 401 session_revoked).
import { protect } from '../../../lib/auth';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/** The notes, by owner. In memory: this example is about the auth, not the storage. */
const notes = new Map<string, string[]>();

/** `GET /api/notes`: `{ notes }`, the caller's. */
export const GET = protect((_request, caller) => Response.json({ notes: notes.get(caller.userId) ?? [] }));

/** `POST /api/notes` `{ text }`: adds a note; `201 { notes }`. */
export const POST = protect(async (request, caller) => {
  const body: unknown = await request.json().catch(() => null);
  const text = (body as { text?: unknown } | null)?.text;
  if (typeof text !== 'string' || text.length === 0 || text.length > 1000) {
    const problem = { type: 'about:blank', title: 'Bad Request', status: 400, code: 'invalid_request', field: 'text', detail: 'text must be a string of 1 to 1000 characters.' };
    return new Response(JSON.stringify(problem), { status: 400, headers: { 'content-type': 'application/problem+json' } });
  }
  const mine = notes.get(caller.userId) ?? [];
  mine.push(text);
  notes.set(caller.userId, mine);
  return Response.json({ notes: mine }, { status: 201 });
});
