// Shared setup of the Chromium end-to-end tests: the browser (Debian's chromium driven by
// playwright-core), a real listening Tokenstile server, and where screenshots go.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { AuthEvent } from '../../src/core/events.ts';
import { buildApp, type BuildAppOptions } from '../../src/http/app.ts';
import { fastHasher, goodPassword, testBackend } from '../helpers.ts';
import { freePort } from '../scale/harness.ts';

/** The browser binary: Debian's `chromium` package (`.ci/run` installs it). */
export const chromiumPath = process.env.TOKENSTILE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where the tests leave their screenshots (gitignored). */
export const artifactsDir = fileURLToPath(new URL('../../test-artifacts/browser/', import.meta.url));

/**
 * Why the browser tests cannot run here, or null. Under `CI=true` a missing browser is a failure
 * (the caller throws); elsewhere the tests skip and print this reason.
 */
export function browserProblem(): string | null {
  if (!existsSync(chromiumPath)) return `no Chromium at ${chromiumPath} (apt-get install -y chromium, or set TOKENSTILE_TEST_CHROMIUM)`;
  if (!existsSync(fileURLToPath(new URL('../../dist/web/account.js', import.meta.url)))) return 'the account page is not built (npm run build)';
  return null;
}

/**
 * The `skip` option of a browser suite: false when Chromium can run here, else the reason (printed
 * as a skip). Under `CI=true` a missing browser throws instead: CI must not pass by skipping.
 */
export function browserSkip(): string | false {
  const problem = browserProblem();
  if (problem !== null && process.env.CI === 'true') throw new Error(`browser tests cannot run under CI=true: ${problem}`);
  if (problem !== null) console.log(`# SKIPPED browser tests: ${problem}`);
  return problem ?? false;
}

/**
 * Records what shows a broken page into `errors`: script errors, CSP violations and other console
 * errors. Chromium logs every refused request (401, 403) as "Failed to load resource": expected, so
 * left out. With `onlyOn`, console errors count only while the page is on that origin (another
 * site's page, such as a provider's login, is not ours to judge).
 */
export function collectPageErrors(page: Page, errors: string[], onlyOn?: string): void {
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error' || msg.text().startsWith('Failed to load resource')) return;
    if (onlyOn !== undefined && !page.url().startsWith(onlyOn)) return;
    errors.push(`console: ${msg.text()}`);
  });
}

/** The account page's own steps, as a user takes them, against the server at `base`. */
export interface AccountPageSteps {
  /** Loads `url` (default the account page) and waits until the page has settled on a view. */
  open(page: Page, url?: string): Promise<void>;
  /** Registers `email` with the test password (and `name`); resolves once signed in. */
  signUp(page: Page, email: string, name?: string): Promise<void>;
  /**
   * Signs in with email and password; resolves once `until` shows: the signed-in view by default,
   * or another element (`#mfa-form` when a second step is asked for).
   */
  signIn(page: Page, email: string, options?: { password?: string; until?: string }): Promise<void>;
}

export function accountPageSteps(base: string | (() => string)): AccountPageSteps {
  const baseUrl = () => (typeof base === 'function' ? base() : base);
  const open = async (page: Page, url = `${baseUrl()}/account`): Promise<void> => {
    await page.goto(url);
    await page.waitForSelector('#signed-out:not([hidden]), #signed-in:not([hidden]), #reset-view:not([hidden])');
  };
  return {
    open,
    async signUp(page, email, name) {
      await open(page);
      if (name !== undefined) await page.fill('#register-name', name);
      await page.fill('#register-email', email);
      await page.fill('#register-password', goodPassword);
      await page.click('#register-form button[type=submit]');
      await page.waitForSelector('#signed-in:not([hidden])');
    },
    async signIn(page, email, { password = goodPassword, until = '#signed-in' } = {}) {
      await open(page);
      await page.fill('#login-email', email);
      await page.fill('#login-password', password);
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector(`${until}:not([hidden])`);
    },
  };
}

/** Launches headless Chromium with a fresh profile; every `newContext()` is a separate device. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 60_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** One request as the server saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly origin: string | undefined;
  readonly hadCookie: boolean;
  /** When the request arrived and when its answer went out (`performance.now()` of this process). */
  readonly received: number;
  readonly answered: number;
}

/** A listening Tokenstile server for the browser. */
export interface LiveServer {
  readonly app: FastifyInstance;
  readonly base: string;
  /** Every request answered so far. */
  readonly seen: SeenRequest[];
  /** Every auth event so far. */
  readonly events: AuthEvent[];
  close(): Promise<void>;
}

/**
 * Starts the real server (account page included) on a free port of 127.0.0.1. `hostName`: how
 * the browser reaches it (the issuer's host), e.g. `localhost` for WebAuthn, which takes no IP
 * address as its relying-party id.
 */
export async function startServer(options: Partial<BuildAppOptions> = {}, hostName = '127.0.0.1'): Promise<LiveServer> {
  const backend = testBackend();
  const seen: SeenRequest[] = [];
  const events: AuthEvent[] = [];
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const base = `http://${hostName}:${port}`;
    const app = buildApp({ issuer: base, passwordHasher: fastHasher, rateLimits: false, docs: false, ...backend.options, ...options, onEvent: (e) => events.push(e) });
    app.addHook('onResponse', async (request, reply) => {
      const answered = performance.now();
      seen.push({
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        origin: request.headers.origin,
        hadCookie: request.headers.cookie !== undefined,
        received: answered - reply.elapsedTime,
        answered,
      });
    });
    try {
      await app.listen({ host: '127.0.0.1', port });
      return {
        app,
        base,
        seen,
        events,
        async close() {
          await app.close();
          await backend.cleanup();
        },
      };
    } catch (err) {
      await app.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) {
        await backend.cleanup();
        throw err;
      }
    }
  }
}

/** Makes sure the artifacts folder exists; returns the path of `name` in it. */
export function artifact(name: string): string {
  mkdirSync(artifactsDir, { recursive: true });
  return `${artifactsDir}${name}`;
}
