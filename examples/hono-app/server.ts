// A Hono notes app with Tokenstile inside: the contract's /auth/* routes at the root, and the
// app's own /api/notes guarded by `auth.protect()` (Bearer tokens, or the cookie transport with
// its CSRF checks; a logged-out session is refused at once).
import { fileURLToPath } from 'node:url';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { createFetchHandler, type AuthInfo } from 'tokenstile/fetch';

const port = Number(process.env.PORT ?? 3000);
const here = fileURLToPath(new URL('.', import.meta.url));

const auth = await createFetchHandler({
  issuer: process.env.TOKENSTILE_ISSUER ?? `http://localhost:${port}`,
  // SQLite in this folder by default (keys, users, sessions); created on first start.
  databaseUrl: process.env.TOKENSTILE_DATABASE_URL ?? `sqlite:${here}data/tokenstile.db`,
});

/** The notes, by owner. In memory: this example is about the auth, not the storage. */
const notes = new Map<string, string[]>();

const app = new Hono<{ Bindings: HttpBindings; Variables: { auth: AuthInfo } }>();

app.get('/', (c) => c.json({ service: 'notes', signIn: 'POST /auth/login', notes: 'GET /api/notes' }));

app.get('/api/notes', auth.protect(), (c) => c.json({ notes: notes.get(c.get('auth').userId) ?? [] }));

app.post('/api/notes', auth.protect(), async (c) => {
  const body: unknown = await c.req.json().catch(() => null);
  const text = (body as { text?: unknown } | null)?.text;
  if (typeof text !== 'string' || text.length === 0 || text.length > 1000) {
    const problem = { type: 'about:blank', title: 'Bad Request', status: 400, code: 'invalid_request', field: 'text', detail: 'text must be a string of 1 to 1000 characters.' };
    return c.body(JSON.stringify(problem), 400, { 'content-type': 'application/problem+json' });
  }
  const mine = notes.get(c.get('auth').userId) ?? [];
  mine.push(text);
  notes.set(c.get('auth').userId, mine);
  return c.json({ notes: mine }, 201);
});

// Last: Tokenstile's routes (/auth/*, /.well-known/*, /account, …); anything else 404 problem+json.
app.all('*', (c) => auth(c.req.raw, { remoteAddress: c.env.incoming.socket.remoteAddress }));

const server = serve({ fetch: app.fetch, port }, () => console.log(`notes app listening on http://localhost:${port}`));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    server.close();
    void auth.close().then(() => process.exit(0));
  });
}
