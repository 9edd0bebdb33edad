// One Tokenstile handler per server process, shared by every route handler (and kept across hot
// reloads in `next dev`). Server-only: route handlers use it with `runtime = 'nodejs'`.
import { join } from 'node:path';
import type { AuthInfo, FetchHandler } from 'tokenstile/fetch';

// Loaded by Node at run time, never bundled. `serverExternalPackages` (next.config.ts) does that
// for a package installed from the registry; `file:../..` links this repository instead, which
// the bundler treats as app source, so the import says it here too.
const tokenstile = import(/* turbopackIgnore: true */ /* webpackIgnore: true */ 'tokenstile/fetch') as Promise<typeof import('tokenstile/fetch')>;

const port = Number(process.env.PORT ?? 3000);

const shared = globalThis as typeof globalThis & { tokenstile?: Promise<FetchHandler> };

/** The Tokenstile handler: the contract's routes, and `authenticate()` for the app's own. */
export const auth: Promise<FetchHandler> = (shared.tokenstile ??= tokenstile.then(({ createFetchHandler }) =>
  createFetchHandler({
    issuer: process.env.TOKENSTILE_ISSUER ?? `http://localhost:${port}`,
    // SQLite in this folder by default (keys, users, sessions); created on first start.
    // `next start` runs in the app's folder, so the working directory is this folder.
    databaseUrl: process.env.TOKENSTILE_DATABASE_URL ?? `sqlite:${join(process.cwd(), 'data', 'tokenstile.db')}`,
  }),
));

/** Answers a request with Tokenstile's routes (`/auth/*`, …). */
export async function handle(request: Request): Promise<Response> {
  return (await auth)(request);
}

/**
 * A route handler that runs only for a signed-in caller (Tokenstile's `withAuth`): otherwise the
 * answer is Tokenstile's 401/403 problem+json.
 */
export function protect(route: (request: Request, caller: AuthInfo) => Response | Promise<Response>): (request: Request) => Promise<Response> {
  const guarded = tokenstile.then(({ withAuth }) => withAuth(auth, route));
  return async (request) => (await guarded)(request, undefined);
}
