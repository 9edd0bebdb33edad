// A browser app on another origin (another port, same site, as with a dev server on :5173) uses
// Tokenstile through tokenstile/client with the cookie transport: CORS with credentials for the
// allowed origin only, in real Chromium. A page on a second, unlisted port gets nothing.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { browserSkip, launchBrowser, startServer, type LiveServer } from './browser-harness.ts';

const skip = browserSkip();

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The browser client as one script that puts `createClient` on `window.tokenstile`. */
async function clientBundle(): Promise<string> {
  const out = await build({
    stdin: { contents: "import { createClient } from './src/client/index.ts'; (window as any).tokenstile = { createClient };", resolveDir: root, loader: 'ts' },
    bundle: true,
    format: 'esm',
    write: false,
    logLevel: 'warning',
  });
  return out.outputFiles[0]!.text;
}

/** A static app server on 127.0.0.1: an empty page that loads the client. */
async function appServer(script: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else if (req.url === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title><script type="module" src="/client.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

let browser: Browser;
let api: LiveServer;
let allowed: { server: Server; origin: string };
let other: { server: Server; origin: string };

before(async () => {
  if (skip) return;
  const script = await clientBundle();
  allowed = await appServer(script);
  other = await appServer(script);
  browser = await launchBrowser();
  api = await startServer({ allowedOrigins: [allowed.origin] });
});
after(async () => {
  await browser?.close();
  await api?.close();
  allowed?.server.close();
  other?.server.close();
});

async function openApp(origin: string): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'tokenstile' in window);
  return { context, page, errors };
}

describe('a browser app on another origin', { skip }, () => {
  test('the allowed origin signs up, signs in with cookies, reads, changes and signs out through CORS', { timeout: 90_000 }, async () => {
    const { context, page, errors } = await openApp(allowed.origin);
    try {
      const email = uniqueEmail();
      const result = await page.evaluate(
        async ({ base, email, password }) => {
          const { createClient } = (window as unknown as { tokenstile: { createClient: (o: { baseUrl: string }) => any } }).tokenstile;
          const auth = createClient({ baseUrl: base });
          await auth.register({ email, password });
          await auth.login({ email, password });
          const me = await auth.me();
          const renamed = await auth.updateName('Cross Origin');
          const sessions = await auth.sessions();
          const resumed = await auth.resume();
          await auth.logout();
          const after = await fetch(`${base}/auth/me`, { credentials: 'include' });
          return { me: me.email, renamed: renamed.name, sessions: sessions.length, resumed, afterLogout: after.status };
        },
        { base: api.base, email, password: goodPassword },
      );
      assert.deepEqual(result, { me: email, renamed: 'Cross Origin', sessions: 1, resumed: true, afterLogout: 401 });
      const fromApp = api.seen.filter((r) => r.origin === allowed.origin);
      assert.ok(fromApp.some((r) => r.method === 'OPTIONS' && r.url === '/auth/me' && r.status === 204), 'the PATCH was preflighted and granted');
      const patch = fromApp.find((r) => r.method === 'PATCH' && r.url === '/auth/me');
      assert.ok(patch && patch.status === 200 && patch.hadCookie, `the PATCH carried the cookies: ${JSON.stringify(patch)}`);
      assert.deepEqual((await context.cookies(api.base)).filter((c) => c.name.includes('tokenstile')), [], 'logout expired the cookies');
      // The only error is the expected 401 after logout.
      assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
    } finally {
      await context.close();
    }
  });

  test('an origin that is not listed can neither read answers nor sign in with cookies', { timeout: 60_000 }, async () => {
    const { context, page } = await openApp(other.origin);
    try {
      const email = uniqueEmail();
      await api.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
      const result = await page.evaluate(
        async ({ base, email, password }) => {
          const { createClient } = (window as unknown as { tokenstile: { createClient: (o: { baseUrl: string }) => any } }).tokenstile;
          const outcome = async (run: () => Promise<unknown>) => {
            try {
              await run();
              return 'answered';
            } catch (err) {
              return (err as Error).name;
            }
          };
          return {
            read: await outcome(() => fetch(`${base}/auth/me`, { credentials: 'include' })),
            login: await outcome(() => createClient({ baseUrl: base }).login({ email, password })),
          };
        },
        { base: api.base, email, password: goodPassword },
      );
      assert.deepEqual(result, { read: 'TypeError', login: 'TypeError' });
      assert.ok(!api.seen.some((r) => r.origin === other.origin && r.url === '/auth/login' && r.method === 'POST'), 'the login was never sent: its preflight was refused');
      assert.deepEqual((await context.cookies(api.base)).filter((c) => c.name.includes('tokenstile')), []);
    } finally {
      await context.close();
    }
  });
});
