// Tokenstile in Deno as a Deno user writes it: the installed package's fetch handler served by
// `Deno.serve`, SQLite (Deno's `node:sqlite`) at TOKENSTILE_DATABASE_URL, and the app's own
// GET /api/notes guarded by `withAuth`. test/http/fetch-runtimes.test.ts runs it on PORT.
import { createFetchHandler, withAuth } from 'tokenstile/fetch';

/** The part of Deno's API this script uses (Deno's own types are not installed). */
declare const Deno: {
  readonly version: { readonly deno: string };
  readonly env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen(address: { port: number }): void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGTERM', listener: () => void): void;
  exit(code: number): never;
};

const port = Number(Deno.env.get('PORT'));
const auth = await createFetchHandler({ issuer: `http://127.0.0.1:${port}`, databaseUrl: Deno.env.get('TOKENSTILE_DATABASE_URL'), logger: console });
const notes = withAuth(auth, (_request, caller) => Response.json({ userId: caller.userId, notes: [] }));

const server = Deno.serve(
  { port, hostname: '127.0.0.1', onListen: (address) => console.log(`deno ${Deno.version.deno} listening on ${address.port}`) },
  (request, info) => (new URL(request.url).pathname === '/api/notes' ? notes(request, undefined) : auth(request, { remoteAddress: info.remoteAddr.hostname })),
);

Deno.addSignalListener('SIGTERM', () => void server.shutdown().then(() => auth.close()).then(() => Deno.exit(0)));
