// The account page's recovery flows in real Chromium against a real SMTP server the test starts:
// the mails are read off the wire and their links followed. Keyboard only where a user types.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { linkIn, startSmtpServer, type SmtpTestServer } from '../features/mail/smtp-test-server.ts';
import { accountPageSteps, artifact, browserSkip, collectPageErrors, launchBrowser, startServer, type LiveServer } from './browser-harness.ts';

const skip = browserSkip();

let browser: Browser;
let server: LiveServer;
let smtp: SmtpTestServer;
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  smtp = await startSmtpServer();
  browser = await launchBrowser();
  server = await startServer({ recovery: { smtpUrl: smtp.url, mailFrom: 'no-reply@example.com', magicLink: true } });
});
after(async () => {
  await browser?.close();
  await server?.close();
  await smtp?.close();
  assert.deepEqual(pageErrors, [], 'no script errors or CSP violations');
});

async function device(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  collectPageErrors(page, pageErrors);
  return { context, page };
}

const { open, signUp, signIn: signInWith } = accountPageSteps(() => server.base);
const signIn = (page: Page, email: string, password?: string) => signInWith(page, email, password === undefined ? {} : { password });

const focused = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');
const status = async (page: Page) => (await page.textContent('#status')) ?? '';

describe('recovery on the account page in Chromium, mail through SMTP', { skip }, () => {
  test('sign-up: the banner asks to confirm; "Send a new link" mails one; following it confirms and the banner goes', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const { context, page } = await device();
    try {
      await signUp(page, email);
      await page.waitForSelector('#verify-banner:not([hidden])');
      assert.equal(await page.textContent('#verify-banner-email'), email);
      const first = await smtp.waitFor(email, (m) => m.subject === 'Confirm your email address');
      await page.focus('#verify-resend');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /new confirmation link/.test(document.getElementById('status')?.textContent ?? ''));
      const second = await smtp.waitFor(email, (m) => m !== first);
      await page.screenshot({ path: artifact('recovery-verify-banner.png'), fullPage: true });
      await open(page, linkIn(second, `${server.base}/account`));
      await page.waitForFunction(() => /email address is confirmed/.test(document.getElementById('status')?.textContent ?? ''));
      assert.ok(!page.url().includes('#'), 'the token left the address bar');
      await page.waitForSelector('#signed-in:not([hidden])');
      await page.waitForFunction(() => document.getElementById('verify-banner')?.hidden === true);
    } finally {
      await context.close();
    }
  });

  test('"Forgot password?" by keyboard → the mail → its link opens the reset form → a weak password says why → a strong one signs every device out', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const other = await device();
    const { context, page } = await device();
    try {
      await signUp(other.page, email);
      await open(page);
      await page.focus('#forgot-open');
      await page.keyboard.press('Enter');
      assert.equal(await focused(page), 'forgot-email');
      await page.keyboard.type(email);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /link to reset its password is on its way/.test(document.getElementById('status')?.textContent ?? ''));
      const mail = await smtp.waitFor(email, (m) => m.subject === 'Reset your password');
      const link = linkIn(mail, `${server.base}/account`);
      assert.match(link, /\/account#reset=tso_/);

      await open(page, link);
      assert.ok(!page.url().includes('#'), 'the token left the address bar');
      assert.equal(await page.isVisible('#reset-view'), true);
      assert.equal(await focused(page), 'reset-password');
      await page.keyboard.type('Password123!');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => (document.getElementById('reset-error')?.textContent ?? '').length > 0);
      assert.match((await page.textContent('#reset-error')) ?? '', /common/i);
      await page.screenshot({ path: artifact('recovery-reset-weak.png'), fullPage: true });
      await page.fill('#reset-password', '');
      await page.keyboard.type('a lamp under 3 ferns');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#signed-out:not([hidden])');
      assert.match(await status(page), /password is changed/);
      assert.equal(await focused(page), 'login-email');

      // The other device finds its session ended at its next action.
      await other.page.fill('#profile-name', 'Should not save');
      await other.page.click('#name-form button[type=submit]');
      await other.page.waitForSelector('#signed-out:not([hidden])');
      await signIn(page, email, 'a lamp under 3 ferns');
    } finally {
      await context.close();
      await other.context.close();
    }
  });

  test('change of email: the link to the new address changes it; the old address got a notice', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const newEmail = uniqueEmail();
    const { context, page } = await device();
    try {
      await signUp(page, email);
      await page.fill('#new-email', newEmail);
      await page.fill('#email-password', goodPassword);
      await page.click('#email-form button[type=submit]');
      await page.waitForFunction((to) => (document.getElementById('status')?.textContent ?? '').includes(to), newEmail);
      await smtp.waitFor(email, (m) => m.subject === 'Your email address is being changed');
      const mail = await smtp.waitFor(newEmail, (m) => m.subject === 'Confirm your new email address');
      await open(page, linkIn(mail, `${server.base}/account`));
      await page.waitForFunction(() => /email address is changed/.test(document.getElementById('status')?.textContent ?? ''));
      await page.waitForSelector('#signed-in:not([hidden])');
      await page.waitForFunction((to) => document.getElementById('me-email')?.textContent === to, newEmail);
    } finally {
      await context.close();
    }
  });

  test('a sign-in link opened in a fresh browser signs it in (cookie transport), and the page then works as after a sign-in', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const first = await device();
    await signUp(first.page, email);
    await first.context.close();
    const asked = await fetch(`${server.base}/auth/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
    assert.equal(asked.status, 202);
    const mail = await smtp.waitFor(email, (m) => m.subject === 'Your sign-in link');
    const { context, page } = await device();
    try {
      await open(page, linkIn(mail, `${server.base}/account`));
      await page.waitForSelector('#signed-in:not([hidden])');
      assert.match(await status(page), /You are signed in/);
      assert.ok(!page.url().includes('#'), 'the token left the address bar');
      assert.equal(await page.textContent('#me-email'), email);
      await page.fill('#profile-name', 'Signed in by link');
      await page.click('#name-form button[type=submit]');
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('name is saved'));
    } finally {
      await context.close();
    }
  });

  test('"Email me a sign-in link" by keyboard (shown because links are on) → the mail → its link signs in', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const first = await device();
    await signUp(first.page, email);
    await first.context.close();
    const { context, page } = await device();
    try {
      await open(page);
      await page.waitForSelector('#magic-row:not([hidden])');
      await page.focus('#magic-open');
      await page.keyboard.press('Enter');
      assert.equal(await focused(page), 'magic-email');
      await page.keyboard.type(email);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /sign-in link is on its way/.test(document.getElementById('status')?.textContent ?? ''));
      const mail = await smtp.waitFor(email, (m) => m.subject === 'Your sign-in link');
      await open(page, linkIn(mail, `${server.base}/account`));
      await page.waitForSelector('#signed-in:not([hidden])');
      assert.equal(await page.textContent('#me-email'), email);
    } finally {
      await context.close();
    }
  });
});
