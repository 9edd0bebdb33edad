// The account page and the browser client in real Chromium (Debian's package, driven by
// playwright-core): two devices, sign-out of other devices, a hostile page on another port, tabs
// refreshing together, keyboard use, and screenshots at phone and desktop width.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { accountPageSteps, artifact, browserSkip, collectPageErrors, launchBrowser, startServer, type LiveServer } from './browser-harness.ts';

const skip = browserSkip();

const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

let browser: Browser;
let server: LiveServer;
/** Messages that show a broken page: script errors and CSP violations. */
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  server = await startServer();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function device(viewport = desktop): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  watch(page);
  return { context, page };
}

function watch(page: Page): void {
  collectPageErrors(page, pageErrors);
}

const steps = accountPageSteps(() => server.base);
const openAccount = (page: Page, base = server.base) => steps.open(page, `${base}/account`);
const signUp = (page: Page, email: string, name = 'Ada Lovelace') => steps.signUp(page, email, name);
const signIn = (page: Page, email: string, password?: string) => steps.signIn(page, email, password === undefined ? {} : { password });

async function saveName(page: Page, name: string): Promise<void> {
  await page.fill('#profile-name', name);
  await page.click('#name-form button[type=submit]');
}

const devices = (page: Page) => page.locator('#devices li');

describe('account page in Chromium', { skip }, () => {
  test('two devices: each lists both sessions with browser, OS and IP, its own marked; "sign out other devices" signs the other out at its next action', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const laptop = await device(desktop);
    const mobile = await device(phone);
    try {
      await signUp(laptop.page, email);
      await signIn(mobile.page, email);
      await laptop.page.reload();
      await laptop.page.waitForSelector('#signed-in:not([hidden])');
      assert.equal(await devices(laptop.page).count(), 2);
      const current = laptop.page.locator('#devices li[data-current=true]');
      assert.equal(await current.count(), 1);
      assert.match((await current.textContent()) ?? '', /Chrome \d+ on Linux.*This device.*IP 127\.0\.0\.1.*Last used just now/s);
      assert.equal(await laptop.page.locator('#devices li:not([data-current]) button').count(), 1, 'the other device has a sign-out button');
      assert.equal(await laptop.page.textContent('#me-email'), email);

      await laptop.page.screenshot({ path: artifact('account-desktop.png'), fullPage: true });
      await mobile.page.screenshot({ path: artifact('account-phone.png'), fullPage: true });

      await laptop.page.click('#signout-others');
      await laptop.page.waitForFunction(() => document.querySelectorAll('#devices li').length === 1);
      assert.match((await laptop.page.textContent('#status')) ?? '', /other devices are signed out/);

      // The phone has not noticed yet; its next action finds its session ended.
      assert.equal(await mobile.page.isVisible('#signed-in'), true);
      await saveName(mobile.page, 'Should not be saved');
      await mobile.page.waitForSelector('#signed-out:not([hidden])');
      assert.match((await mobile.page.textContent('#status')) ?? '', /signed out/i);
      await mobile.page.screenshot({ path: artifact('signed-out-phone.png'), fullPage: true });
      // A reload stays signed out, and the name did not change.
      await openAccount(mobile.page);
      assert.equal(await mobile.page.isVisible('#signed-out'), true);
      await laptop.page.reload();
      await laptop.page.waitForSelector('#signed-in:not([hidden])');
      assert.equal(await laptop.page.inputValue('#profile-name'), 'Ada Lovelace');
    } finally {
      await laptop.context.close();
      await mobile.context.close();
    }
  });

  test('profile name, sign out this device and sign out everywhere', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const a = await device();
    const b = await device();
    try {
      await signUp(a.page, email, 'First Name');
      await signIn(b.page, email);
      await saveName(a.page, 'Second Name');
      await a.page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('name is saved'));
      await b.page.reload();
      await b.page.waitForSelector('#signed-in:not([hidden])');
      assert.equal(await b.page.inputValue('#profile-name'), 'Second Name');

      await b.page.click('#signout-this');
      await b.page.waitForSelector('#signed-out:not([hidden])');
      assert.match((await b.page.textContent('#status')) ?? '', /You are signed out/);
      // The session cookies are gone from the browser, not only hidden by the page (the device
      // cookie, which holds no token, stays: the browser remains known to the sign-in throttle).
      assert.deepEqual((await b.context.cookies()).filter((c) => c.name.includes('tokenstile') && c.name !== '__Secure-tokenstile-device'), []);

      await signIn(b.page, email);
      await a.page.click('#signout-all');
      await a.page.waitForSelector('#signed-out:not([hidden])');
      await b.page.reload();
      await b.page.waitForSelector('#signed-out:not([hidden])');
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  test('change password: other devices are signed out, the new password signs in, a wrong current one is shown as an error', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const a = await device();
    const b = await device();
    try {
      await signUp(a.page, email);
      await signIn(b.page, email);
      await a.page.fill('#current-password', 'wrong password 1');
      await a.page.fill('#new-password', 'new secret pass 7');
      await a.page.click('#password-form button[type=submit]');
      await a.page.waitForFunction(() => (document.getElementById('password-error')?.textContent ?? '') !== '');
      assert.match((await a.page.textContent('#password-error')) ?? '', /email or password is wrong/);

      await a.page.fill('#current-password', goodPassword);
      await a.page.fill('#new-password', 'new secret pass 7');
      await a.page.click('#password-form button[type=submit]');
      await a.page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('password is changed'));
      assert.equal(await devices(a.page).count(), 1);
      await b.page.reload();
      await b.page.waitForSelector('#signed-out:not([hidden])');
      await signIn(b.page, email, 'new secret pass 7');
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  test('a page on another port (same site, other origin) cannot sign the user out or change the password', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const victim = await device();
    const hostile = await startHostilePage(server.base, goodPassword);
    try {
      await signUp(victim.page, email);
      const attackerOrigin = `http://127.0.0.1:${(hostile.address() as { port: number }).port}`;
      const attack = await victim.context.newPage();
      await attack.goto(`${attackerOrigin}/`);
      await attack.waitForFunction(() => document.title === 'done', undefined, { timeout: 30_000 });
      const results = await attack.evaluate(() => (window as unknown as { results: Record<string, string> }).results);
      // The attacker's script cannot read the page's CSRF token: storage is per origin.
      assert.equal(results.storage, 'none');

      const fromAttacker = server.seen.filter((r) => r.origin === attackerOrigin);
      // SameSite does not stop these: the other port is the same site, so the cookies went along...
      const logout = fromAttacker.filter((r) => r.method === 'POST' && r.url === '/auth/logout');
      assert.ok(logout.length >= 2, `the forged logouts reached the server: ${JSON.stringify(fromAttacker)}`);
      assert.ok(logout.every((r) => r.hadCookie), 'the browser sent the cookies to the same-site request');
      // ...and the origin and CSRF checks refused them.
      assert.ok(logout.every((r) => r.status === 403), JSON.stringify(logout));
      // The password change needs a preflight (JSON, X-CSRF-Token), which is never granted: it was
      // not sent at all, or refused.
      assert.ok(fromAttacker.filter((r) => r.url === '/auth/password').every((r) => r.status >= 400), JSON.stringify(fromAttacker));
      assert.notEqual(results.cors, '204');

      // Still signed in, and the old password still works.
      await victim.page.reload();
      await victim.page.waitForSelector('#signed-in:not([hidden])');
      await saveName(victim.page, 'Still here');
      await victim.page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('name is saved'));
      const check = await device();
      await signIn(check.page, email);
      await check.context.close();
    } finally {
      hostile.close();
      await victim.context.close();
    }
  });

  test('keyboard only: tab to the sign-in form, type, Enter; every field has a label and text has enough contrast', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const setup = await device();
    await signUp(setup.page, email);
    await setup.context.close();

    const { context, page } = await device(phone);
    try {
      await openAccount(page);
      await page.screenshot({ path: artifact('signin-phone.png'), fullPage: true });
      const unlabeled = await page.evaluate(() =>
        [...document.querySelectorAll('input')].filter((i) => (i.labels?.length ?? 0) === 0 || [...i.labels!].every((l) => !l.textContent?.trim())).map((i) => i.id),
      );
      assert.deepEqual(unlabeled, []);
      const nameless = await page.evaluate(() => [...document.querySelectorAll('button')].filter((b) => !(b.getAttribute('aria-label') ?? b.textContent ?? '').trim()).map((b) => b.id));
      assert.deepEqual(nameless, []);
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling at 390 px');

      let reached = false;
      for (let i = 0; i < 12 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(() => document.activeElement?.id === 'login-email');
      }
      assert.ok(reached, 'Tab never reached the email field');
      await page.keyboard.type(email);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-password');
      await page.keyboard.type(goodPassword);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#signed-in:not([hidden])');
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling at 390 px when signed in');

      const ratios = await page.evaluate(contrastRatios);
      for (const [what, ratio] of Object.entries(ratios)) assert.ok(ratio >= 4.5, `${what}: contrast ${ratio.toFixed(2)} < 4.5`);

      await page.setViewportSize(desktop);
      await openAccount(page);
      await page.click('#signout-this');
      await page.waitForSelector('#signed-out:not([hidden])');
      await page.screenshot({ path: artifact('signin-desktop.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the page runs without script errors or CSP violations, from this server alone', async () => {
    assert.deepEqual(pageErrors, []);
    const external = server.seen.filter((r) => !r.url.startsWith('/'));
    assert.deepEqual(external, []);
    const res = await fetch(`${server.base}/account`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /(?:src|href)="https?:/, 'no external asset');
  });
});

describe('several tabs refreshing together', { skip }, () => {
  let short: LiveServer;
  before(async () => {
    if (skip) return;
    // A 3 s access token, expired exactly, and no refresh grace: only the client's lock and tab
    // messages keep the tabs from spending the same refresh cookie twice (which would revoke the session).
    short = await startServer({ accessTokenTtl: '3s', clockTolerance: '0s', refreshGrace: '0s' });
  });
  after(() => short?.close());

  test('four tabs over several access-token lifetimes stay signed in; each token is refreshed once, by one tab, and no refresh token is reused', { timeout: 120_000 }, async () => {
    const email = uniqueEmail();
    const context = await browser.newContext({ viewport: desktop });
    try {
      const first = await context.newPage();
      watch(first);
      await first.goto(`${short.base}/account`);
      await first.waitForSelector('#signed-out:not([hidden])');
      await first.fill('#register-email', email);
      await first.fill('#register-password', goodPassword);
      await first.click('#register-form button[type=submit]');
      await first.waitForSelector('#signed-in:not([hidden])');
      const tabs = [first];
      for (let i = 0; i < 3; i++) {
        const tab = await context.newPage();
        watch(tab);
        await tab.goto(`${short.base}/account`);
        await tab.waitForSelector('#signed-in:not([hidden])');
        tabs.push(tab);
      }
      for (let round = 0; round < 3; round++) {
        // A token's lifetime passes (load only makes it longer): every tab's timer wants to refresh
        // at the same moments, and the token of the last round has expired by now.
        await first.waitForTimeout(3_000);
        const ended = short.events.filter((e) => e.type === 'refresh_reuse_detected' || e.type === 'session_revoked');
        for (const tab of tabs) assert.equal(await tab.isVisible('#signed-in'), true, `signed out before round ${round}: ${await tab.textContent('#status')} (${JSON.stringify(ended)})`);
        // And all tabs act at once, some with an access cookie that may just have expired.
        const names = tabs.map((_, i) => `Tab ${i} round ${round}`);
        await Promise.all(tabs.map((tab, i) => saveName(tab, names[i]!)));
        const errors = await Promise.all(tabs.map((tab, i) => savedOrError(tab, names[i]!)));
        assert.deepEqual(errors, tabs.map(() => ''), `round ${round}: every tab saved its name`);
        for (const tab of tabs) assert.equal(await tab.isVisible('#signed-in'), true);
      }
      const reused = short.events.filter((e) => e.type === 'refresh_reuse_detected' || e.type === 'session_revoked');
      assert.deepEqual(reused, []);
      const failed = short.seen.filter((r) => r.url === '/auth/refresh' && r.status !== 200);
      assert.deepEqual(failed, []);
      // Each round came a full lifetime after the last and needed a token issued since.
      const refreshes = short.seen.filter((r) => r.url === '/auth/refresh');
      assert.ok(refreshes.length >= 3, `three lifetimes passed, yet only ${refreshes.length} refreshes`);
      // Shared: one refresh per token for the whole browser, not one per tab. A tab refreshes a
      // token when its timer fires, 2 s after the token came, or when a request fails with it, at
      // its expiry 2-3 s after the request for it arrived (exp is in whole seconds); load only
      // delays both. So a refresh that arrives while the previous one is being answered, or less
      // than 1 s after it arrived, refreshed a token that another tab had just refreshed.
      const issued = short.seen.filter((r) => (r.url === '/auth/login' || r.url === '/auth/refresh') && r.status === 200).sort((a, b) => a.received - b.received);
      const early = issued.slice(1).flatMap((r, i) => {
        const previous = issued[i]!;
        return r.received < previous.answered || r.received - previous.received < 1_000 ? [`${r.url} ${Math.round(r.received - previous.received)} ms after ${previous.url}`] : [];
      });
      const t0 = issued[0]!.received;
      const timeline = short.seen.filter((r) => r.received >= t0).map((r) => `${Math.round(r.received - t0)}-${Math.round(r.answered - t0)} ms ${r.method} ${r.url} ${r.status}`);
      assert.deepEqual(early, [], `tabs did not share refreshes (${refreshes.length} refreshes); requests since the login:\n${timeline.join('\n')}`);
    } finally {
      await context.close();
    }
  });
});

/** Waits until `page` shows that its save of `name` was answered; the error shown, or '' when it was saved. */
async function savedOrError(page: Page, name: string): Promise<string> {
  await page.waitForFunction(
    (expected) => (document.getElementById('whoami')?.textContent ?? '').startsWith(`${expected} ·`) || (document.getElementById('name-error')?.textContent ?? '') !== '',
    name,
  );
  return (await page.textContent('#name-error')) ?? '';
}

/** A page on another port that tries to sign the user out of `victim` and change the password. */
async function startHostilePage(victim: string, password: string): Promise<Server> {
  const html = `<!doctype html><title>loading</title><script>
(async () => {
  const results = {};
  try { results.storage = localStorage.getItem('tokenstile') === null ? 'none' : 'leaked'; } catch (e) { results.storage = 'none'; }
  // No body, no custom header: a "simple" request, sent without a preflight, cookies included.
  try { await fetch(${JSON.stringify(victim)} + '/auth/logout', { method: 'POST', mode: 'no-cors', credentials: 'include' }); results.noCors = 'sent'; } catch (e) { results.noCors = 'error'; }
  try { await fetch(${JSON.stringify(victim)} + '/auth/logout', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'x-csrf-token': 'guessed' } }); results.noCors2 = 'sent'; } catch (e) { results.noCors2 = 'error'; }
  try {
    const r = await fetch(${JSON.stringify(victim)} + '/auth/password', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-csrf-token': 'guessed' }, body: JSON.stringify({ currentPassword: ${JSON.stringify(password)}, newPassword: 'attacker pass 666' }) });
    results.cors = String(r.status);
  } catch (e) { results.cors = 'blocked'; }
  window.results = results;
  document.title = 'done';
})();
</script>`;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Contrast ratios (WCAG 2) of the page's main text/background pairs; runs in the page. */
function contrastRatios(): Record<string, number> {
  const rgb = (css: string): number[] => (css.match(/[\d.]+/g) ?? ['0', '0', '0']).slice(0, 3).map(Number);
  const lum = (c: number[]): number => {
    const [r, g, b] = c.map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const background = (el: Element | null): string => {
    for (let e = el; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  const ratio = (el: Element | null): number => {
    if (!el) return 0;
    const a = lum(rgb(getComputedStyle(el).color));
    const b = lum(rgb(background(el)));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const q = (s: string) => document.querySelector(s);
  return {
    'body text': ratio(q('#me-email')),
    heading: ratio(q('#devices-title')),
    hint: ratio(q('.hint')),
    'device details': ratio(q('.device-meta')),
    'primary button': ratio(q('#password-form button.primary')),
    'danger button': ratio(q('#signout-all')),
    'plain button': ratio(q('#signout-others')),
    'this-device badge': ratio(q('.badge')),
    'header bar': ratio(q('.whoami')),
  };
}
