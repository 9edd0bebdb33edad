// Second factors and passkeys on the account page, in real Chromium: enrolling an authenticator
// app (the code computed with otpauth from the key the page shows), downloading the recovery
// codes and signing in with one, the second step at sign-in, and passkeys through Chromium's
// virtual authenticator (DevTools protocol WebAuthn.*): add, sign in without a password, use as
// the second factor, remove after re-authenticating. The server's clock is a ManualClock, so
// a fresh TOTP step and an old sign-in take no waiting.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ManualClock } from '../../src/core/clock.ts';
import { totpCode } from '../features/mfa/totp-code.ts';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { accountPageSteps, artifact, browserSkip, collectPageErrors, launchBrowser, startServer, type LiveServer } from './browser-harness.ts';

const skip = browserSkip();

let browser: Browser;
let server: LiveServer;
const clock = new ManualClock(Date.now());
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  // WebAuthn takes a domain as relying-party id, never an IP address: the browser goes to localhost.
  // The page signs DPoP proofs (the account page's default) with the browser's clock: it is set to
  // this manual clock's time when that moves (`advance`); the widest proof window (10 minutes)
  // covers the time that passes meanwhile, while this clock stands still.
  server = await startServer({ clock, dpop: 'required', dpopProofWindow: '10m' }, 'localhost');
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** A browser profile with a virtual platform authenticator (user-verifying, resident keys). */
async function device(withAuthenticator = false): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ acceptDownloads: true });
  await context.clock.install({ time: clock.now() });
  const page = await context.newPage();
  collectPageErrors(page, pageErrors);
  if (withAuthenticator) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
  }
  return { context, page };
}

const { open, signUp, signIn } = accountPageSteps(() => server.base);

/** Moves the server's clock, and the page's with it (the page's DPoP proofs carry its time). */
async function advance(page: Page, ms: number): Promise<void> {
  clock.advance(ms);
  await page.clock.setSystemTime(clock.now());
}

/** Signs in with the password; answers once the second step is asked for. */
const passwordStep = (page: Page, email: string) => signIn(page, email, { until: '#mfa-form' });

async function signOut(page: Page): Promise<void> {
  await page.click('#signout-this');
  await page.waitForSelector('#signed-out:not([hidden])');
}

/** Moves the server's clock to the next TOTP step. */
function nextStep(): void {
  clock.set((Math.floor(clock.now() / 30_000) + 1) * 30_000 + 1_000);
}

describe('second factors and passkeys in Chromium', { skip }, () => {
  test('authenticator app: enrol from the page, download the recovery codes, sign in with a code and with a recovery code', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const { context, page } = await device();
    await signUp(page, email);
    await page.click('#totp-start');
    await page.waitForSelector('#totp-form:not([hidden])');
    assert.ok((await page.getAttribute('#totp-qr', 'src'))?.startsWith('data:image/png;base64,'));
    assert.equal(await page.evaluate(() => (document.getElementById('totp-qr') as HTMLImageElement).naturalWidth > 0), true, 'the QR code renders under the page CSP');
    const secret = (await page.textContent('#totp-secret'))!.replace(/\s/g, '');
    await page.fill('#totp-code', totpCode(secret, clock.now()));
    await page.click('#totp-form button');
    await page.waitForSelector('#recovery:not([hidden])');
    const codes = await page.locator('#recovery-codes li').allTextContents();
    assert.equal(codes.length, 10);
    assert.match((await page.textContent('#totp-state'))!, /On\. 10 recovery codes left/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#recovery-download')]);
    const saved = readFileSync((await download.path())!, 'utf8');
    for (const c of codes) assert.ok(saved.includes(c), `the download holds ${c}`);
    await page.screenshot({ path: artifact('mfa-recovery-codes.png'), fullPage: true });
    await signOut(page);

    await passwordStep(page, email);
    assert.equal(await page.isHidden('#mfa-passkey'), true, 'no passkey yet: no passkey button');
    await page.fill('#mfa-code', '000000' === totpCode(secret, clock.now()) ? '111111' : '000000');
    await page.click('#mfa-form button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('mfa-error')?.textContent ?? '').length > 0);
    nextStep();
    await page.fill('#mfa-code', totpCode(secret, clock.now()));
    await page.click('#mfa-form button[type=submit]');
    await page.waitForSelector('#signed-in:not([hidden])');
    await signOut(page);

    await passwordStep(page, email);
    await page.fill('#mfa-code', codes[0]!);
    await page.click('#mfa-form button[type=submit]');
    await page.waitForSelector('#signed-in:not([hidden])');
    assert.match((await page.textContent('#totp-state'))!, /9 recovery codes left/);

    // An old sign-in: the password change asks to confirm first, then goes through.
    await advance(page, 6 * 60_000);
    await page.fill('#current-password', goodPassword);
    await page.fill('#new-password', 'another horse 43');
    await page.click('#password-form button[type=submit]');
    await page.waitForSelector('#reauth-form:not([hidden])');
    await page.fill('#reauth-password', goodPassword);
    await page.click('#reauth-form button[type=submit]');
    await page.waitForFunction(() => /password is changed/.test(document.getElementById('status')?.textContent ?? ''));
    assert.deepEqual(pageErrors, []);
    await context.close();
  });

  test('passkeys with the virtual authenticator: add and name one, sign in without a password, use it as the second factor, remove it after re-authenticating', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    const { context, page } = await device(true);
    await signUp(page, email);
    // A name is the user's text, shown as text: markup in it is not markup on the page.
    const name = 'Laptop <img src=x onerror="window.__xss=1">';
    await page.fill('#passkey-name', name);
    await page.click('#passkey-form button');
    await page.waitForSelector('#passkeys li');
    assert.equal(await page.textContent('#passkeys li .device-name'), name);
    assert.equal(await page.locator('#passkeys li img').count(), 0);
    assert.equal(await page.evaluate(() => (window as { __xss?: number }).__xss), undefined);
    await signOut(page);

    await open(page);
    await page.click('#passkey-signin');
    await page.waitForSelector('#signed-in:not([hidden])');
    assert.equal(await page.textContent('#me-email'), email);
    await signOut(page);

    // With a passkey, a password sign-in asks for it as the second factor.
    await passwordStep(page, email);
    assert.equal(await page.isVisible('#mfa-passkey'), true);
    await page.click('#mfa-passkey');
    await page.waitForSelector('#signed-in:not([hidden])');

    // An old sign-in: removing the passkey asks to confirm first.
    await advance(page, 6 * 60_000);
    await page.click('#passkeys li button');
    await page.waitForSelector('#reauth-form:not([hidden])');
    await page.screenshot({ path: artifact('mfa-reauthenticate.png'), fullPage: true });
    await page.fill('#reauth-password', goodPassword);
    await page.click('#reauth-form button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#passkeys li').length === 0);
    assert.equal(await page.isHidden('#reauth-form'), true);
    const audit = await server.app.tokenstile.audit({ limit: 100 });
    assert.ok(audit.some((e) => e.type === 'passkeys.removed'));
    assert.deepEqual(pageErrors, []);
    await context.close();
  });
});
