import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RateLimiter } from '../../src/core/rate-limiter.ts';
import { bearer, goodPassword, problemOf, testApp, uniqueEmail } from '../helpers.ts';
import { deviceCookieName } from '../../src/http/request-device.ts';

const minute = 60_000;

/** The value a response sets for cookie `name`, or null. */
function cookieOf(res: { headers: Record<string, unknown> }, name: string): string | null {
  const lines = ([] as string[]).concat((res.headers['set-cookie'] as string | string[] | undefined) ?? []);
  const line = lines.find((l) => l.startsWith(`${name}=`));
  return line ? decodeURIComponent(line.slice(name.length + 1).split(';')[0]!) : null;
}

describe('rate limits', () => {
  test('sign-in per account: the 11th attempt in 15 minutes is 429 with Retry-After, for an email that exists and one that does not alike', async () => {
    const t = await testApp({ rateLimits: { loginPerIp: false } });
    try {
      const known = uniqueEmail();
      await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: known, password: goodPassword } });
      for (const email of [known, uniqueEmail()]) {
        const attempt = () => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password 1' } });
        for (let i = 0; i < 10; i++) {
          assert.equal((await attempt()).statusCode, 401);
          t.clock.advance(4001); // keep the spacing, so only the window's count is tested
        }
        const limited = await attempt();
        assert.equal(problemOf(limited).code, 'too_many_requests');
        assert.equal(limited.statusCode, 429);
        const retryAfter = Number(limited.headers['retry-after']);
        assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
      }
      // Even the right password waits: the limit comes before the check.
      const right = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: known, password: goodPassword } });
      assert.equal(right.statusCode, 429);
      t.clock.advance(15 * minute + 1);
      const later = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: known, password: goodPassword } });
      assert.equal(later.statusCode, 200, 'the window slides on');
    } finally {
      await t.close();
    }
  });

  test('after three failures, attempts on an account must keep a growing spacing, whatever the password, alike for unknown emails', async () => {
    for (const exists of [true, false]) {
      const t = await testApp({ rateLimits: { loginPerIp: false } });
      try {
        const email = uniqueEmail();
        if (exists) await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
        const attempt = (password = 'wrong password 1') => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
        for (let i = 0; i < 3; i++) assert.equal((await attempt()).statusCode, 401, 'no spacing for the first three');
        assert.equal((await attempt()).statusCode, 401, 'the 4th is judged, and starts the spacing');
        for (let round = 0; round < 2; round++) {
          // Too soon: refused whatever the password, so hanging up early or sending in parallel gains nothing.
          const early = await attempt(exists ? goodPassword : 'wrong password 1');
          assert.equal(early.statusCode, 429);
          assert.equal(problemOf(early).code, 'too_many_requests');
          assert.ok(Number(early.headers['retry-after']) >= 1);
          // Refused attempts are not counted: waiting out the spacing is enough.
          t.clock.advance(4001);
          assert.equal((await attempt()).statusCode, 401, 'after the wait, the attempt is judged');
        }
        if (exists) {
          t.clock.advance(4001);
          assert.equal((await attempt(goodPassword)).statusCode, 200, 'the owner gets in once they wait');
          assert.equal((await attempt()).statusCode, 401, 'and a success resets the spacing');
          assert.equal((await attempt()).statusCode, 401);
        }
      } finally {
        await t.close();
      }
    }
  });

  test('a successful sign-in resets the account counter', async () => {
    const t = await testApp({ rateLimits: { loginPerIp: false } });
    try {
      const email = uniqueEmail();
      await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 9; i++) {
          await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password 1' } });
          t.clock.advance(4001); // keep the spacing, so only the window's count is tested
        }
        assert.equal((await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword } })).statusCode, 200);
      }
    } finally {
      await t.close();
    }
  });

  test('wrong current passwords on a password change count against the account like failed sign-ins', async () => {
    const t = await testApp({ rateLimits: { loginPerIp: false, loginPerAccount: { limit: 3, window: '15m' } } });
    try {
      const s = await t.signUp();
      const change = () => t.app.inject({ method: 'POST', url: '/auth/password', headers: { authorization: `Bearer ${s.accessToken}` }, payload: { currentPassword: 'not it at all 1', newPassword: 'brand new pass 9' } });
      for (let i = 0; i < 3; i++) assert.equal((await change()).statusCode, 401);
      const limited = await change();
      assert.equal(limited.statusCode, 429, 'a stolen access token is not an unlimited password oracle');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      // Audit entries are written after the fact, in batches: wait (bounded) for them to land.
      let failed = 0;
      for (let i = 0; i < 100 && failed < 3; i++) {
        await new Promise((r) => setTimeout(r, i === 0 ? 0 : 20));
        failed = (await t.app.tokenstile.audit({ userId: s.user.id, limit: 10 })).filter((e) => e.type === 'password_change_failed').length;
      }
      assert.equal(failed, 3);
    } finally {
      await t.close();
    }
  });

  test('registration per IP, with its own limit', async () => {
    const t = await testApp({ rateLimits: { registerPerIp: { limit: 3, window: '1h' } } });
    try {
      const register = (ip: string) => t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail(), password: goodPassword }, remoteAddress: ip });
      for (let i = 0; i < 3; i++) assert.equal((await register('198.51.100.7')).statusCode, 201);
      assert.equal((await register('198.51.100.7')).statusCode, 429);
      assert.equal((await register('198.51.100.8')).statusCode, 201, 'another IP has its own count');
    } finally {
      await t.close();
    }
  });

  test('refresh per IP', async () => {
    const t = await testApp({ rateLimits: { refreshPerIp: { limit: 2, window: '1m' } } });
    try {
      const s = await t.signUp();
      const r1 = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: s.refreshToken } });
      const r2 = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: r1.json().refreshToken } });
      assert.equal(r2.statusCode, 200);
      const r3 = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: r2.json().refreshToken } });
      assert.equal(problemOf(r3).code, 'too_many_requests');
      // The refused attempt spent nothing: the token still works once the window has passed.
      t.clock.advance(minute + 1);
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: r2.json().refreshToken } })).statusCode, 200);
    } finally {
      await t.close();
    }
  });

  test('when the shared limiter fails, limits still hold, counted in this process', async () => {
    const broken: RateLimiter = {
      hit: () => Promise.reject(new Error('redis down')),
      peek: () => Promise.reject(new Error('redis down')),
      reset: () => Promise.reject(new Error('redis down')),
    };
    const t = await testApp({ rateLimiter: broken, rateLimits: { loginPerIp: false, loginPerAccount: { limit: 2, window: '1m' } } });
    try {
      const email = uniqueEmail();
      const attempt = () => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password 1' } });
      assert.equal((await attempt()).statusCode, 401);
      assert.equal((await attempt()).statusCode, 401);
      assert.equal((await attempt()).statusCode, 429);
    } finally {
      await t.close();
    }
  });

  test('attempts refused by the spacing do not count: after hammering, waiting the spacing is enough', async () => {
    const t = await testApp({ rateLimits: { loginPerIp: false } });
    try {
      const email = uniqueEmail();
      await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
      const attempt = (password = 'wrong password 1') => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
      for (let i = 0; i < 4; i++) assert.equal((await attempt()).statusCode, 401);
      // 30 attempts at once inside the spacing: refused and not counted (with 10 allowed, counting
      // them would lock the account). The spacing is atomic, so at most one slips through: one
      // whose mark Redis let expire in real time while a busy machine was slow.
      const burst = await Promise.all(Array.from({ length: 30 }, () => attempt()));
      assert.ok(burst.filter((r) => r.statusCode === 429).length >= 29, burst.map((r) => r.statusCode).join(' '));
      t.clock.advance(4001);
      assert.equal((await attempt(goodPassword)).statusCode, 200, 'judged, and let in');
    } finally {
      await t.close();
    }
  });

  test('a guesser on one IP is stopped after 10, and further attempts do not extend the wait', async () => {
    const t = await testApp({ rateLimits: { loginPerIp: false } });
    try {
      const email = uniqueEmail();
      await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
      const attempt = (password = 'wrong password 1') =>
        t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress: '203.0.113.5' });
      const start = t.clock.now();
      for (let i = 0; i < 10; i++) {
        assert.equal((await attempt()).statusCode, 401);
        t.clock.advance(4001);
      }
      // Hammering through the window: every attempt refused, the right password too.
      while (t.clock.now() < start + 15 * minute - 4001) {
        const refused = await attempt(goodPassword);
        assert.equal(refused.statusCode, 429);
        t.clock.advance(30_000);
      }
      // The window slides past the first failure exactly as if nothing had been tried since.
      t.clock.set(start + 15 * minute + 1);
      assert.equal((await attempt()).statusCode, 401, 'judged again once the first failure left the window');
    } finally {
      await t.close();
    }
  });

  test('an attacker flooding from other IPs cannot stop the owner signing in, from its own IP or a known device', async () => {
    const t = await testApp({ rateLimits: {} });
    try {
      const email = uniqueEmail();
      await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword } });
      const login = (ip: string, password: string, headers: Record<string, string> = {}) =>
        t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress: ip, headers });
      // The owner's browser signed in before, from a café: it holds a device cookie.
      const earlier = await login('192.0.2.44', goodPassword, { 'tokenstile-transport': 'cookie' });
      assert.equal(earlier.statusCode, 200, earlier.body);
      const deviceCookie = cookieOf(earlier, deviceCookieName);
      assert.ok(deviceCookie, 'a cookie sign-in sets the device cookie');
      const cookieLine = ([] as string[]).concat(earlier.headers['set-cookie'] ?? []).find((l) => l.startsWith(`${deviceCookieName}=`))!;
      assert.match(cookieLine, /HttpOnly/i);
      assert.match(cookieLine, /Secure/i);
      assert.match(cookieLine, /Path=\/auth\/login/i);

      // The attack: 60 IPs, 15 wrong passwords each (the spacing kept), renewing the locks as it goes.
      const attackers = Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 1}`);
      for (let round = 0; round < 15; round++) {
        for (const ip of attackers) await login(ip, 'wrong password 1');
        t.clock.advance(4001);
      }
      // Each attacking IP is stopped.
      const stopped = await login(attackers[0]!, goodPassword);
      assert.equal(stopped.statusCode, 429, 'an attacker IP is stopped, even with the right password');
      // The owner, from its own IP (never used to guess): straight in.
      assert.equal((await login('192.0.2.10', goodPassword)).statusCode, 200, 'the owner from its own IP');
      // The owner's known browser, even on a network the attacker used: in too.
      const known = await login(attackers[1]!, goodPassword, { 'tokenstile-transport': 'cookie', cookie: `${deviceCookieName}=${deviceCookie}` });
      assert.equal(known.statusCode, 200, `the owner's known device: ${known.body}`);
      assert.ok(cookieOf(known, deviceCookieName), 'the device cookie is renewed');
      // A forged or another account's device cookie is no proof.
      const forged = await login(attackers[2]!, goodPassword, { cookie: `${deviceCookieName}=${deviceCookie.slice(0, -2)}AA` });
      assert.equal(forged.statusCode, 429);
    } finally {
      await t.close();
    }
  });

  test('spread over many IPs, a guesser gets one attempt per new IP once the account is under attack', async () => {
    const t = await testApp({ rateLimits: { loginPerIp: false, loginPerAccountAllClients: { limit: 20, window: '15m' } } });
    try {
      const email = uniqueEmail();
      const login = (ip: string) => t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password 1' }, remoteAddress: ip });
      for (let i = 0; i < 10; i++) {
        assert.equal((await login(`198.51.100.${i}`)).statusCode, 401);
        assert.equal((await login(`198.51.100.${i}`)).statusCode, 401);
      }
      // 20 attempts on the account: a second attempt from any IP is now refused...
      const again = await login('198.51.100.3');
      assert.equal(again.statusCode, 429);
      assert.ok(Number(again.headers['retry-after']) >= 1);
      // ...while a new IP is judged once, then stopped.
      assert.equal((await login('203.0.113.9')).statusCode, 401);
      assert.equal((await login('203.0.113.9')).statusCode, 429);
    } finally {
      await t.close();
    }
  });

  test('failed sign-ins by anyone else do not block the owner\'s password change', async () => {
    const t = await testApp({ rateLimits: { loginPerIp: false } });
    try {
      const s = await t.signUp();
      for (let i = 0; i < 12; i++) {
        await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.user.email, password: 'wrong password 1' }, remoteAddress: '127.0.0.1' });
        t.clock.advance(4001);
      }
      const change = await t.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(s.accessToken), payload: { currentPassword: goodPassword, newPassword: 'brand new pass 9' } });
      assert.equal(change.statusCode, 204, change.body);
    } finally {
      await t.close();
    }
  });

  test('protected resource routes are not throttled', async () => {
    const t = await testApp({ rateLimits: {} });
    try {
      const s = await t.signUp();
      for (let i = 0; i < 700; i++) {
        const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${s.accessToken}` } });
        if (res.statusCode !== 200) assert.fail(`request ${i}: ${res.statusCode}`);
      }
    } finally {
      await t.close();
    }
  });
});
