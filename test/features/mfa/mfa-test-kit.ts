// What the MFA and passkey route tests share: requests, TOTP enrolment and sign-in steps.
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { totpCode } from './totp-code.ts';
import { appMode, bearer, goodPassword, type TestApp, type TokenBody } from '../../helpers.ts';
import { expectProblem } from '../../http/problem-assertions.ts';

export type Res = LightMyRequestResponse;

export function post(t: TestApp, url: string, payload: unknown, token?: string, headers: Record<string, string> = {}): Promise<Res> {
  return t.app.inject({ method: 'POST', url, payload: payload as object, headers: { ...(token && bearer(token)), ...headers } });
}

export function get(t: TestApp, url: string, token: string): Promise<Res> {
  return t.app.inject({ method: 'GET', url, headers: bearer(token) });
}

export function del(t: TestApp, url: string, token: string): Promise<Res> {
  return t.app.inject({ method: 'DELETE', url, headers: bearer(token) });
}

export function login(t: TestApp, email: string, password = goodPassword, headers: Record<string, string> = {}): Promise<Res> {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, headers });
}

/** Signs in with the password; asserts `403 mfa_required` and answers its members. */
export async function mfaRequired(t: TestApp, email: string): Promise<{ mfaToken: string; methods: string[] }> {
  const body = expectProblem(await login(t, email), 403, 'mfa_required') as unknown as { mfaToken: string; methods: string[] };
  assert.match(body.mfaToken, /^tsm_[\w-]{43}$/);
  return { mfaToken: body.mfaToken, methods: body.methods };
}

/** Sets up and confirms TOTP for the signed-in user; answers the secret and the recovery codes. */
export async function enrolTotp(t: TestApp, s: TokenBody): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await post(t, '/auth/mfa/totp/setup', {}, s.accessToken);
  assert.equal(setup.statusCode, 200, setup.body);
  const { secret } = setup.json() as { secret: string };
  const confirmed = await post(t, '/auth/mfa/totp/confirm', { code: totpCode(secret, t.clock.now()) }, s.accessToken);
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  return { secret, recoveryCodes: (confirmed.json() as { recoveryCodes: string[] }).recoveryCodes };
}

/** Moves the clock to the start of the next TOTP step (a fresh code). */
export function nextStep(t: TestApp): void {
  t.clock.set((Math.floor(t.clock.now() / 30_000) + 1) * 30_000 + 1_000);
}

/** The access token's claims (JWT format only; null for opaque handles). */
export function claimsOf(accessToken: string): Record<string, unknown> | null {
  if (appMode === 'opaque') return null;
  return JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Asserts the token is refused as its session was ended. */
export async function expectEnded(t: TestApp, accessToken: string): Promise<void> {
  const r = await get(t, '/auth/me', accessToken);
  expectProblem(r, 401, 'session_revoked');
}

export async function expectLive(t: TestApp, accessToken: string): Promise<void> {
  const r = await get(t, '/auth/me', accessToken);
  assert.equal(r.statusCode, 200, r.body);
}

/** The user's audit entries once every one of `types` is there (written after the answer, in the background): a bounded poll. */
export async function auditWith(t: TestApp, userId: string, types: readonly string[]) {
  for (let i = 0; ; i++) {
    const entries = await t.app.tokenstile.audit({ userId, limit: 100 });
    if (types.every((type) => entries.some((e) => e.type === type))) return entries;
    if (i >= 200) assert.fail(`audit entries ${types.join(', ')} never appeared; got ${entries.map((e) => e.type).join(', ')}`);
    await new Promise((resolve) => setImmediate(resolve));
    if (i > 50) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
