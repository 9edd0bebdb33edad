// A user's own Fastify app with Tokenstile embedded: the /auth routes are mounted beside the
// app's routes, and `app.authenticate` guards the app's own endpoints.
import Fastify, { type FastifyInstance } from 'fastify';
import { tokenstile, type TokenstilePluginOptions } from 'tokenstile/fastify';

interface Note {
  owner: string;
  text: string;
}

export async function buildNotesApp(auth: TokenstilePluginOptions): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(tokenstile, auth);

  const notes: Note[] = [];

  // Public route: no hook.
  app.get('/', async () => ({ service: 'notes', signIn: 'POST /auth/login' }));

  // Protected routes: the hook answers 401 (problem+json, WWW-Authenticate) or sets request.auth.
  app.get('/notes', { onRequest: app.authenticate }, async (request) => {
    const { userId } = request.auth!;
    return { notes: notes.filter((n) => n.owner === userId).map((n) => n.text) };
  });

  app.post<{ Body: { text: string } }>(
    '/notes',
    {
      onRequest: app.authenticate,
      schema: { body: { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 1000 } } } },
    },
    async (request, reply) => {
      notes.push({ owner: request.auth!.userId, text: request.body.text });
      return reply.code(201).send({ ok: true });
    },
  );

  return app;
}

// Run directly: node examples/fastify-embed/app.ts (after `npm run build`)
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const app = await buildNotesApp({ issuer: 'http://127.0.0.1:4000', databaseUrl: 'sqlite:./data/notes-auth.db' });
  await app.listen({ port: 4000 });
  console.log('notes app on http://127.0.0.1:4000');
}
