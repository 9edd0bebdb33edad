import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../../core/config.ts';
import type { RouteDefinition } from '../http-types.ts';
import { sendProblem } from '../problem.ts';
import type { RouteSet } from './route-context.ts';

/**
 * The built page (`npm run build` → dist/web). Both src/http/routes and dist/http/routes sit three levels below
 * the package root, so this resolves the same from the sources (tests) and from the package.
 */
const builtDir = new URL('../../../dist/web/', import.meta.url);

/** The page's own policy: its script and stylesheet only, and requests to this origin. */
const pagePolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

function load(name: string, type: string): Asset | null {
  const url = new URL(name, builtDir);
  if (!existsSync(url)) return null;
  const body = readFileSync(url);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/**
 * `GET /account` (the account page) and its assets (script, stylesheet, icon), read once at
 * startup. Served with a strict CSP and revalidated on each load (ETag), so a new build is picked
 * up at once. When the page was not built, the routes answer 503 with the command that builds it.
 */
export function accountPageRoutes(logger?: Logger): RouteSet {
  const assets: Record<string, Asset | null> = {
    '/account': load('account.html', 'text/html; charset=utf-8'),
    '/account/account.js': load('account.js', 'text/javascript; charset=utf-8'),
    '/account/account.css': load('account.css', 'text/css; charset=utf-8'),
    // Linked from the page: without it, browsers ask for /favicon.ico and log the 404.
    '/account/favicon.svg': load('favicon.svg', 'image/svg+xml'),
  };
  if (Object.values(assets).some((a) => a === null)) logger?.warn({}, 'tokenstile: the account page is not built (run npm run build); /account answers 503');
  const routes = Object.entries(assets).map(
    ([path, asset]): RouteDefinition => ({
      method: 'GET',
      url: path,
      group: 'plain',
      body: 'none',
      schema: { hide: true },
      handler: async (request, reply) => {
        if (asset === null) return sendProblem(reply, 'service_unavailable', { detail: 'The account page is not built: run npm run build.' });
        reply.header('cache-control', 'no-cache').header('etag', asset.etag);
        if (asset.type.startsWith('text/html')) reply.header('content-security-policy', pagePolicy);
        if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
        return reply.type(asset.type).send(asset.body);
      },
    }),
  );
  return { routes };
}
