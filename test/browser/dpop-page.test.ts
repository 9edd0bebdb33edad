// The account page with DPoP required (TOKENSTILE_DPOP=required, server nonces on) in real
// Chromium: the page's key is a non-extractable WebCrypto key in IndexedDB, and what an attacker
// can copy out of the page (cookies, CSRF token, a proof seen on the network) is refused from Node,
// while the page goes on working, across a reload and a refresh, in several tabs, until logout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createHash, randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { goodPassword, uniqueEmail } from '../helpers.ts';
import { accountPageSteps, browserSkip, collectPageErrors, launchBrowser, startServer, type LiveServer } from './browser-harness.ts';

const skip = browserSkip();

let browser: Browser;
let server: LiveServer;
const pageErrors: string[] = [];

before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  server = await startServer({ dpop: 'required', dpopNonce: true });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function tab(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  // Refused requests (the nonce challenge's first try) are logged as "Failed to load resource": expected, left out.
  collectPageErrors(page, pageErrors);
  await steps.open(page);
  return page;
}

const steps = accountPageSteps(() => server.base);
const register = (page: Page, email: string) => steps.signUp(page, email);

async function saveName(page: Page, name: string): Promise<void> {
  await page.fill('#profile-name', name);
  await page.click('#name-form button[type=submit]');
  await page.waitForFunction((expected) => (document.getElementById('whoami')?.textContent ?? '').startsWith(`${expected} ·`) || (document.getElementById('name-error')?.textContent ?? '') !== '', name);
  assert.equal(await page.textContent('#name-error'), '', `saving ${name}`);
}

/** What the page's IndexedDB holds for the client's key, read in the page as a script of the origin (XSS) would. */
function storedKey(page: Page): Promise<{ found: boolean; type?: string; extractable?: boolean; algorithm?: string; usages?: string[]; exportError?: string; publicX?: string }> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('tokenstile-dpop');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    try {
      if (!db.objectStoreNames.contains('keys')) return { found: false };
      const pair = await new Promise<CryptoKeyPair | undefined>((resolve, reject) => {
        const request = db.transaction('keys', 'readonly').objectStore('keys').get('tokenstile');
        request.onsuccess = () => resolve(request.result as CryptoKeyPair | undefined);
        request.onerror = () => reject(request.error);
      });
      if (pair === undefined) return { found: false };
      const key = pair.privateKey;
      let exportError = '';
      try {
        await crypto.subtle.exportKey('jwk', key);
      } catch (err) {
        exportError = (err as Error).name;
      }
      const publicJwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
      return { found: true, type: key.type, extractable: key.extractable, algorithm: `${key.algorithm.name} ${(key.algorithm as EcKeyAlgorithm).namedCurve}`, usages: [...key.usages], exportError, publicX: publicJwk.x };
    } finally {
      db.close();
    }
  });
}

/** A proof by a key that is not the page's (jose in Node), for `method` `path`, bound to `token`. */
async function foreignProof(method: string, path: string, token?: string, nonce?: string): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const claims = { htm: method, htu: `${server.base}${path}`, ...(token && { ath: createHash('sha256').update(token).digest('base64url') }), ...(nonce && { nonce }) };
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setJti(randomUUID()).setIssuedAt().sign(privateKey);
}

const problemCode = async (res: Response) => ((await res.json()) as { code?: string }).code;

describe('account page with DPoP required, in Chromium', { skip }, () => {
  test('non-extractable key in IndexedDB; copied cookies, tokens and proofs refused elsewhere; reload and refresh keep the key; logout deletes it', { timeout: 120_000 }, async () => {
    const context = await browser.newContext();
    try {
      const page = await tab(context);
      // Every request the page sends, with its headers, as a proxy or a leaked HAR would show them.
      const proofs: Array<{ url: string; dpop: string }> = [];
      page.on('request', (request) => {
        void request.allHeaders().then((headers) => {
          if (headers.dpop) proofs.push({ url: new URL(request.url()).pathname, dpop: headers.dpop });
        });
      });
      await register(page, uniqueEmail());

      const key = await storedKey(page);
      assert.equal(key.found, true);
      assert.equal(key.type, 'private');
      assert.equal(key.extractable, false, 'the private key is not extractable');
      assert.equal(key.algorithm, 'ECDSA P-256');
      assert.deepEqual(key.usages, ['sign']);
      assert.equal(key.exportError, 'InvalidAccessError', 'crypto.subtle.exportKey refuses the private key');

      // What can be copied out of the page: its cookies (a leaked log, malware), its storage (XSS).
      const cookies = await context.cookies([server.base, `${server.base}/auth/refresh`]);
      const access = cookies.find((c) => c.name === '__Host-tokenstile-access')!.value;
      const refresh = cookies.find((c) => c.name === '__Secure-tokenstile-refresh')!.value;
      const csrf = (await page.evaluate(() => JSON.parse(localStorage.getItem('tokenstile') ?? '{}') as { csrfToken?: string })).csrfToken!;
      const cookieHeader = `__Host-tokenstile-access=${access}`;
      const seenMe = () => proofs.filter((p) => p.url === '/auth/me');
      // Headers are read asynchronously: wait for them, boundedly.
      for (const deadline = performance.now() + 10_000; seenMe().length === 0 && performance.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(seenMe().length > 0, 'the page sent proofs to /auth/me');
      const captured = seenMe().at(-1)!.dpop;
      const capturedClaims = JSON.parse(Buffer.from(captured.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      assert.equal(capturedClaims.htu, `${server.base}/auth/me`);
      assert.equal(capturedClaims.ath, undefined, 'the cookie transport page cannot hash its HttpOnly cookie: no ath');
      assert.equal(typeof capturedClaims.nonce, 'string', 'nonces are on');

      const me = (headers: Record<string, string>) => fetch(`${server.base}/auth/me`, { headers });
      const refused: Array<[string, Response]> = [
        ['the cookie alone', await me({ cookie: cookieHeader })],
        ['the token as Bearer', await me({ authorization: `Bearer ${access}` })],
        ['the token as DPoP without a proof', await me({ authorization: `DPoP ${access}` })],
        ['the token with a proof by another key', await me({ authorization: `DPoP ${access}`, dpop: await foreignProof('GET', '/auth/me', access, String(capturedClaims.nonce)) })],
        ['the cookie with a proof by another key', await me({ cookie: cookieHeader, dpop: await foreignProof('GET', '/auth/me', undefined, String(capturedClaims.nonce)) })],
        ['the cookie with the proof captured from the page', await me({ cookie: cookieHeader, dpop: captured })],
      ];
      for (const [what, res] of refused) {
        assert.equal(res.status, 401, what);
        assert.match(res.headers.get('www-authenticate') ?? '', /\bDPoP\b/, `${what}: WWW-Authenticate DPoP`);
        await res.body?.cancel();
      }
      // The refresh cookie and CSRF token without the key: nothing is spent.
      const refreshWith = (dpop?: string) => fetch(`${server.base}/auth/refresh`, { method: 'POST', headers: { cookie: `__Secure-tokenstile-refresh=${refresh}`, 'x-csrf-token': csrf, ...(dpop && { dpop }) } });
      const noProof = await refreshWith();
      assert.equal(noProof.status, 400);
      assert.equal(await problemCode(noProof), 'invalid_dpop_proof');
      const otherKey = await refreshWith(await foreignProof('POST', '/auth/refresh', undefined, String(capturedClaims.nonce)));
      assert.equal(otherKey.status, 400);
      assert.equal(await problemCode(otherKey), 'invalid_dpop_proof');

      // The page goes on, its refresh token unspent.
      await saveName(page, 'Still here');

      // A reload without the access cookie (expired): the page refreshes with the stored key.
      const refreshesBefore = server.seen.filter((r) => r.url === '/auth/refresh' && r.status === 200).length;
      await context.clearCookies({ name: '__Host-tokenstile-access' });
      await page.reload();
      await page.waitForSelector('#signed-in:not([hidden])');
      assert.equal(server.seen.filter((r) => r.url === '/auth/refresh' && r.status === 200).length, refreshesBefore + 1, 'refreshed once after the reload');
      assert.equal((await storedKey(page)).publicX, key.publicX, 'the same key after the reload');
      await saveName(page, 'After reload');

      // Logout: signed out, the key deleted, the copied cookies refused.
      await page.click('#signout-this');
      await page.waitForSelector('#signed-out:not([hidden])');
      await page.waitForFunction(async () => {
        const db = await new Promise<IDBDatabase>((resolve) => {
          const request = indexedDB.open('tokenstile-dpop');
          request.onsuccess = () => resolve(request.result);
        });
        const found = await new Promise<unknown>((resolve) => {
          const request = db.transaction('keys', 'readonly').objectStore('keys').get('tokenstile');
          request.onsuccess = () => resolve(request.result);
        });
        db.close();
        return found === undefined;
      });
      const after = await me({ cookie: cookieHeader });
      assert.equal(after.status, 401);
      await after.body?.cancel();
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });

  test('a new sign-in gets a new key; two tabs share the key and one refresh, and sign out together', { timeout: 120_000 }, async () => {
    const context = await browser.newContext();
    try {
      const first = await tab(context);
      const email = uniqueEmail();
      await register(first, email);
      const firstKey = (await storedKey(first)).publicX;
      await first.click('#signout-this');
      await first.waitForSelector('#signed-out:not([hidden])');
      await first.fill('#login-email', email);
      await first.fill('#login-password', goodPassword);
      await first.click('#login-form button[type=submit]');
      await first.waitForSelector('#signed-in:not([hidden])');
      const secondKey = (await storedKey(first)).publicX;
      assert.ok(secondKey !== undefined && secondKey !== firstKey, 'a new session, a new key');

      const second = await tab(context);
      await second.waitForSelector('#signed-in:not([hidden])');
      // The access cookie has expired (dropped by the browser); both tabs act at once.
      const before = server.seen.filter((r) => r.url === '/auth/refresh').length;
      await context.clearCookies({ name: '__Host-tokenstile-access' });
      await Promise.all([saveName(first, 'First tab'), saveName(second, 'Second tab')]);
      const refreshes = server.seen.filter((r) => r.url === '/auth/refresh').slice(before);
      assert.deepEqual(refreshes.map((r) => r.status), [200], 'one refresh, shared by the tabs');
      assert.equal((await storedKey(second)).publicX, secondKey);

      await second.click('#signout-all');
      await first.waitForSelector('#signed-out:not([hidden])');
      await second.waitForSelector('#signed-out:not([hidden])');
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });
});
