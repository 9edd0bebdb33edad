// Tokenstile in Bun as a Bun user writes it: the installed package's fetch handler served by
// `Bun.serve`, SQLite (Bun's `node:sqlite`) at TOKENSTILE_DATABASE_URL, and the app's own
// GET /api/notes guarded by `withAuth`. test/http/fetch-runtimes.test.ts runs it on PORT.
import { createFetchHandler, withAuth } from 'tokenstile/fetch';

/** The part of Bun's API this script uses (Bun's own types are not installed). */
declare const Bun: {
  readonly version: string;
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: { requestIP(request: Request): { address: string } | null }): Promise<Response>;
  }): { readonly port: number; stop(): Promise<void> };
};

const port = Number(process.env.PORT);
const auth = await createFetchHandler({ issuer: `http://127.0.0.1:${port}`, databaseUrl: process.env.TOKENSTILE_DATABASE_URL, logger: console });
const notes = withAuth(auth, (_request, caller) => Response.json({ userId: caller.userId, notes: [] }));

const server = Bun.serve({
  port,
  hostname: '127.0.0.1',
  fetch: (request, peer) => (new URL(request.url).pathname === '/api/notes' ? notes(request, undefined) : auth(request, { remoteAddress: peer.requestIP(request)?.address })),
});
console.log(`bun ${Bun.version} listening on ${server.port}`);

process.once('SIGTERM', () => void server.stop().then(() => auth.close()).then(() => process.exit(0)));
