import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RateLimiter } from '../../src/core/rate-limiter.ts';
import { goodPassword, problemOf, testApp, uniqueEmail } from '../helpers.ts';

const minute = 60_000;

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
          // Refused attempts count too: hammering only lengthens the spacing (at most 4 s).
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
