// Social sign-in in real Chromium on /account: the "Sign in with …" button, a real OpenID
// Provider's (oidc-provider) login and consent pages, the page signed in after the redirect, its
// connected accounts, linking a provider to a password account, and the provider's back-channel
// logout signing the page out.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { importJWK, SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { freePort } from '../scale/harness.ts';
import { startOidcProvider, type OidcProviderHarness } from '../features/social/oidc-provider-harness.ts';
import { totpCode } from '../features/mfa/totp-code.ts';
import { artifact, browserSkip, collectPageErrors, launchBrowser, startServer, type LiveServer } from './browser-harness.ts';

const skip = browserSkip();

let browser: Browser;
let server: LiveServer;
let op: OidcProviderHarness;
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  // The provider's port first: Tokenstile discovers it on first use, after it is up.
  const opPort = await freePort();
  const clientSecret = randomBytes(24).toString('base64url');
  server = await startServer({ oauthProviders: [{ id: 'op', issuer: `http://127.0.0.1:${opPort}`, clientId: 'tokenstile', clientSecret, name: 'Acme SSO' }] });
  op = await startOidcProvider({ tokenstileBase: server.base, providerId: 'op', port: opPort, clientSecret });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
  await op?.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  // Only on our pages: the provider's page asks for a web font it cannot reach.
  collectPageErrors(page, pageErrors, server.base);
  return page;
}

/** Fills the provider's development login and consent pages. */
async function atProvider(page: Page, login: string): Promise<void> {
  await page.waitForURL((u) => u.href.startsWith(op.issuer));
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  await page.waitForSelector('button:has-text("Continue")');
  await page.click('button:has-text("Continue")');
}

describe('social sign-in in Chromium', { skip }, () => {
  test('"Sign in with Acme SSO" on /account: the provider\'s pages, back signed in, the provider listed; its back-channel logout signs the page out', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    op.accounts.set('pat', { email, emailVerified: true, name: 'Pat' });
    const page = await newPage();
    await page.goto(`${server.base}/account`);
    await page.waitForSelector('#social-signin:not([hidden])');
    await page.click('a:has-text("Sign in with Acme SSO")');
    await atProvider(page, 'pat');
    await page.waitForSelector('#signed-in:not([hidden])');
    assert.equal(await page.textContent('#me-email'), email);
    assert.equal(new URL(page.url()).hash, '', 'the outcome is taken out of the address bar');
    await page.waitForSelector('#identities li');
    assert.match((await page.textContent('#identities li')) ?? '', /Acme SSO · /);
    // The account has no password: no "Change password" form asking for one it never had.
    await page.waitForSelector('#password-form', { state: 'hidden' });
    assert.match((await page.textContent('#social-accounts .hint')) ?? '', /no password/);
    await page.screenshot({ path: artifact('social-signed-in.png'), fullPage: true });
    // A reload keeps the session (the client stored its CSRF token like after a password sign-in).
    await page.reload();
    await page.waitForSelector('#signed-in:not([hidden])');
    // The provider logs the user out: its logout token ends the session; the page notices on its next load.
    const key = await importJWK(op.privateJwk, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: op.issuer, aud: 'tokenstile', iat: now, exp: now + 60, jti: randomBytes(8).toString('hex'), sub: 'pat', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })
      .setProtectedHeader({ alg: 'RS256', kid: op.privateJwk.kid, typ: 'logout+jwt' })
      .sign(key);
    const res = await fetch(`${server.base}/auth/oauth/op/backchannel-logout`, { method: 'POST', body: new URLSearchParams({ logout_token: token }) });
    assert.equal(res.status, 200);
    await page.reload();
    await page.waitForSelector('#signed-out:not([hidden])');
    assert.match((await page.textContent('#status')) ?? '', /signed out/i);
    assert.deepEqual(pageErrors, []);
  });

  test('an account with TOTP that signs in with the provider is asked for its second factor on the page, then is signed in', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    op.accounts.set('sam', { email, emailVerified: true });
    const page = await newPage();
    await page.goto(`${server.base}/account`);
    await page.click('a:has-text("Sign in with Acme SSO")');
    await atProvider(page, 'sam');
    await page.waitForSelector('#signed-in:not([hidden])');
    // The session has just started: turning TOTP on needs no re-authentication.
    await page.click('#totp-start');
    await page.waitForSelector('#totp-form:not([hidden])');
    const secret = (await page.textContent('#totp-secret'))!.replace(/\s/g, '');
    await page.fill('#totp-code', totpCode(secret, Date.now()));
    await page.click('#totp-form button');
    await page.waitForSelector('#recovery:not([hidden])');
    const codes = await page.locator('#recovery-codes li').allTextContents();

    // Another browser (no provider session there yet) signs in with the provider.
    const other = await newPage();
    await other.goto(`${server.base}/account`);
    await other.click('a:has-text("Sign in with Acme SSO")');
    await atProvider(other, 'sam');
    await other.waitForSelector('#mfa-form:not([hidden])');
    assert.equal(new URL(other.url()).hash, '', 'the mfaToken is taken out of the address bar');
    assert.equal(await other.isHidden('#signed-in'), true, 'no session before the second factor');
    // A recovery code: the TOTP code of this step was spent on the set-up.
    await other.fill('#mfa-code', codes[0]!);
    await other.click('#mfa-form button[type=submit]');
    await other.waitForSelector('#signed-in:not([hidden])');
    assert.equal(await other.textContent('#me-email'), email);
    // No password to give for a change of email: the field is not shown, and the fresh sign-in stands in.
    await other.waitForSelector('#email-password', { state: 'hidden' });
    await other.fill('#new-email', uniqueEmail());
    await other.click('#email-form button[type=submit]');
    await other.waitForFunction(() => /We sent a link/.test(document.getElementById('status')?.textContent ?? ''));
    const amr = server.events.findLast((e) => e.type === 'session_started' && 'userId' in e)?.amr;
    assert.equal(amr, 'fed otp mfa');
    assert.deepEqual(pageErrors, []);
  });

  test('a password account connects the provider from "Connected accounts", then signs in with it', { timeout: 90_000 }, async () => {
    const email = uniqueEmail();
    op.accounts.set('quinn', { email: `quinn-${randomBytes(3).toString('hex')}@upstream.example`, emailVerified: true });
    const page = await newPage();
    await page.goto(`${server.base}/account`);
    await page.fill('#register-email', email);
    await page.fill('#register-password', goodPassword);
    await page.click('#register-form button[type=submit]');
    await page.waitForSelector('#signed-in:not([hidden])');
    await page.click('button:has-text("Connect Acme SSO")');
    await atProvider(page, 'quinn');
    await page.waitForSelector('#signed-in:not([hidden])');
    assert.match((await page.textContent('#status')) ?? '', /connected/);
    await page.waitForSelector('#identities li');
    assert.ok(await page.isVisible('#password-form'), 'a password account keeps its password change');
    // Another browser signs in with the provider: the same account.
    const other = await newPage();
    await other.goto(`${server.base}/account`);
    await other.click('a:has-text("Sign in with Acme SSO")');
    await atProvider(other, 'quinn');
    await other.waitForSelector('#signed-in:not([hidden])');
    assert.equal(await other.textContent('#me-email'), email);
    // Disconnecting from the first page works (a password remains).
    await page.click('#identities li button:has-text("Disconnect")');
    await page.waitForFunction(() => document.querySelectorAll('#identities li').length === 0);
    assert.deepEqual(pageErrors, []);
  });
});
