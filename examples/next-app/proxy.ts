// Next.js's request guard (`proxy.ts` since Next.js 16; `middleware.ts` with `runtime: 'nodejs'`
// in 15.5): every /api/* request needs a signed-in caller, checked before any route runs. The
// proxy runs on the Node.js runtime in the server's own process, so it shares the route handlers'
// Tokenstile handler (lib/auth.ts) and its in-memory revocation list: a logged-out token is
// refused here at once. It cannot hand the caller to the route, so app/api/notes/route.ts still
// takes it from `protect` (an in-memory check: doing it twice costs microseconds).
import { NextResponse, type NextRequest } from 'next/server';
import { auth } from './lib/auth';

export const config = { matcher: ['/api/:path*'] };

/** Tokenstile's 401/403 problem+json for a caller who is not signed in; the route otherwise. */
export async function proxy(request: NextRequest): Promise<Response> {
  const verdict = await (await auth).authenticate(request);
  return verdict instanceof Response ? verdict : NextResponse.next();
}
