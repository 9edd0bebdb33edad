// An Express notes app with Tokenstile inside: the contract's /auth/* routes at the root, and the
// app's own /api/notes guarded by `auth.protect()` (Bearer tokens, or the cookie transport with
// its CSRF checks; a logged-out session is refused at once).
import { fileURLToPath } from 'node:url';
import express from 'express';
import { callerOf, createNodeHandler } from 'tokenstile/node';

const port = Number(process.env.PORT ?? 3000);
const here = fileURLToPath(new URL('.', import.meta.url));

const auth = await createNodeHandler({
  issuer: process.env.TOKENSTILE_ISSUER ?? `http://localhost:${port}`,
  // SQLite in this folder by default (keys, users, sessions); created on first start.
  databaseUrl: process.env.TOKENSTILE_DATABASE_URL ?? `sqlite:${here}data/tokenstile.db`,
});

/** The notes, by owner. In memory: this example is about the auth, not the storage. */
const notes = new Map<string, string[]>();

const app = express();
app.use(auth); // /auth/*, /.well-known/*, /account, …; everything else goes on to the routes below
app.use(express.json());

app.get('/', (_req, res) => void res.json({ service: 'notes', signIn: 'POST /auth/login', notes: 'GET /api/notes' }));

app.get('/api/notes', auth.protect(), (req, res) => {
  res.json({ notes: notes.get(callerOf(req).userId) ?? [] });
});

app.post('/api/notes', auth.protect(), (req, res) => {
  const text: unknown = req.body?.text;
  if (typeof text !== 'string' || text.length === 0 || text.length > 1000) {
    res
      .status(400)
      .type('application/problem+json')
      .json({ type: 'about:blank', title: 'Bad Request', status: 400, code: 'invalid_request', field: 'text', detail: 'text must be a string of 1 to 1000 characters.' });
    return;
  }
  const mine = notes.get(callerOf(req).userId) ?? [];
  mine.push(text);
  notes.set(callerOf(req).userId, mine);
  res.status(201).json({ notes: mine });
});

const server = app.listen(port, () => console.log(`notes app listening on http://localhost:${port}`));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    void auth.close().then(() => process.exit(0));
  });
}
