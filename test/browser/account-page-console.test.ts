// The account page loads with a clean console in real Chromium: no error or warning, no failed
// request and no 4xx/5xx answer, whether the visitor is new, signed in, holding only the refresh
// cookie, or holding the cookies of a session that was ended elsewhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { browserSkip, launchBrowser, startServer, type LiveServer } from './browser-harness.ts';

const skip = browserSkip();

let browser: Browser;
let server: LiveServer;
before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  server = await startServer();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** A device whose page reports everything that would show in DevTools as a problem. */
async function device(): Promise<{ context: BrowserContext; page: Page; problems: string[]; responses: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  const responses: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    responses.push(`${res.status()} ${res.request().method()} ${new URL(res.url()).pathname}`);
    if (res.status() >= 400) problems.push(`answer ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  return { context, page, problems, responses };
}

/** Loads /account and waits until the page has settled on a view and every request has ended. */
async function open(page: Page, view: 'signed-in' | 'signed-out'): Promise<void> {
  await page.goto(`${server.base}/account`, { waitUntil: 'networkidle' });
  await page.waitForSelector(`#${view}:not([hidden])`);
}

async function signUp(page: Page): Promise<string> {
  const email = uniqueEmail();
  await open(page, 'signed-out');
  await page.fill('#register-email', email);
  await page.fill('#register-password', goodPassword);
  await page.click('#register-form button[type=submit]');
  await page.waitForSelector('#signed-in:not([hidden])');
  return email;
}

const storedSessionId = (page: Page) => page.evaluate(() => (JSON.parse(localStorage.getItem('tokenstile') ?? 'null') as { sessionId: string } | null)?.sessionId ?? null);

/** A request about the session: any API call but the public settings the sign-in forms show (providers' buttons, sign-in links). */
const publicSettings = [' GET /auth/oauth/providers', ' GET /auth/magic-link'];
const asksSession = (r: string) => r.includes('/auth/') && !publicSettings.some((p) => r.endsWith(p));

describe('account page console', { skip }, () => {
  test('a first visit: no console error, and the icon is served, not a favicon.ico 404', { timeout: 60_000 }, async () => {
    const d = await device();
    try {
      // Chromium asks for the page's icon after the load (for /favicon.ico when the page names
      // none, reported only as a console error): wait for either outcome, then look.
      const icon = Promise.race([
        d.page.waitForResponse((res) => /favicon/.test(res.url()), { timeout: 30_000 }).then((res) => `${res.status()} ${new URL(res.url()).pathname}`),
        d.page.waitForEvent('console', { predicate: (msg) => /favicon/.test(msg.location().url), timeout: 30_000 }).then((msg) => `console: ${msg.text()} (${msg.location().url})`),
      ]);
      await open(d.page, 'signed-out');
      assert.equal(await icon, '200 /account/favicon.svg');
      assert.deepEqual(d.problems, []);
      assert.ok(!d.responses.some(asksSession), `a signed-out first visit asked the API: ${d.responses.join(', ')}`);
    } finally {
      await d.context.close();
    }
  });

  test('signed in, then reloaded: no console error', { timeout: 60_000 }, async () => {
    const d = await device();
    try {
      await signUp(d.page);
      await open(d.page, 'signed-in');
      assert.deepEqual(d.problems, []);
    } finally {
      await d.context.close();
    }
  });

  test('only the refresh cookie left (the access cookie expired): the page refreshes without a 401', { timeout: 60_000 }, async () => {
    const d = await device();
    try {
      await signUp(d.page);
      await d.context.clearCookies({ name: '__Host-tokenstile-access' });
      d.responses.length = 0;
      await open(d.page, 'signed-in');
      assert.ok(d.responses.includes('200 POST /auth/refresh'), d.responses.join(', '));
      assert.deepEqual(d.problems, []);
    } finally {
      await d.context.close();
    }
  });

  for (const dropAccess of [false, true]) {
    test(`the session was ended elsewhere${dropAccess ? ' and the access cookie expired' : ''}: signed out with a message, no 401`, { timeout: 60_000 }, async () => {
      const d = await device();
      try {
        await signUp(d.page);
        const sessionId = await storedSessionId(d.page);
        assert.ok(sessionId);
        await server.app.tokenstile.revoke({ sessionId });
        if (dropAccess) await d.context.clearCookies({ name: '__Host-tokenstile-access' });
        await open(d.page, 'signed-out');
        assert.match((await d.page.textContent('#status')) ?? '', /signed out|expired/i);
        assert.deepEqual(d.problems, []);
        // The ended session's cookies were dropped, and the next load asks nothing.
        // The device cookie (a sign-in throttling hint, no token) stays by design.
        assert.deepEqual((await d.context.cookies()).filter((c) => c.name.includes('tokenstile') && c.name !== '__Secure-tokenstile-device'), []);
        d.responses.length = 0;
        await open(d.page, 'signed-out');
        assert.ok(!d.responses.some(asksSession), d.responses.join(', '));
        assert.deepEqual(d.problems, []);
      } finally {
        await d.context.close();
      }
    });
  }
});
