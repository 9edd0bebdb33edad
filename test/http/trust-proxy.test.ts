import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { serverConfigFromEnv } from '../../src/cli/env-config.ts';
import { resolveTrustProxy } from '../../src/http/trust-proxy.ts';
import type { BuildAppOptions } from '../../src/http/app.ts';
import { bearer, goodPassword, problemOf, testApp, uniqueEmail } from '../helpers.ts';

/** Signs up through a proxy chain and answers the IP the session records. */
async function recordedIp(options: Partial<BuildAppOptions>, forwardedFor: string, peer = '127.0.0.1'): Promise<string> {
  const t = await testApp(options);
  try {
    const email = uniqueEmail();
    const headers = { 'x-forwarded-for': forwardedFor };
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: goodPassword }, headers, remoteAddress: peer })).statusCode, 201);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: goodPassword }, headers, remoteAddress: peer });
    assert.equal(login.statusCode, 200, login.body);
    const res = await t.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(login.json().accessToken) });
    return (res.json() as { sessions: Array<{ ip: string }> }).sessions[0]!.ip;
  } finally {
    await t.close();
  }
}

describe('trusted proxies', () => {
  // A client sends "X-Forwarded-For: 198.51.100.66"; each proxy appends the address it saw.
  test('a hop count takes the address our proxies saw; forged left-most entries are ignored', async () => {
    assert.equal(await recordedIp({ trustProxy: 1 }, '198.51.100.66, 203.0.113.7'), '203.0.113.7');
    assert.equal(await recordedIp({ trustProxy: 2 }, '198.51.100.66, 203.0.113.7, 10.0.0.2'), '203.0.113.7');
  });

  test('proxy addresses and CIDRs: the right-most address that is not a proxy is the client', async () => {
    const trustProxy = ['127.0.0.1', '10.0.0.0/8'];
    assert.equal(await recordedIp({ trustProxy }, '198.51.100.66, 203.0.113.7, 10.0.0.2'), '203.0.113.7');
    assert.equal(await recordedIp({ trustProxy }, '198.51.100.66, 203.0.113.7', '192.0.2.50'), '192.0.2.50', 'a peer that is not a proxy is believed about nothing');
  });

  test('by default the peer address counts, whatever the header says', async () => {
    assert.equal(await recordedIp({}, '198.51.100.66'), '127.0.0.1');
  });

  test('per-IP limits follow the real client behind a hop-count proxy, however it forges the header', async () => {
    const t = await testApp({ trustProxy: 1, rateLimits: { registerPerIp: { limit: 2, window: '1h' } } });
    try {
      const register = (forged: string) =>
        t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail(), password: goodPassword }, headers: { 'x-forwarded-for': `${forged}, 203.0.113.7` } });
      assert.equal((await register('198.51.100.1')).statusCode, 201);
      assert.equal((await register('198.51.100.2')).statusCode, 201);
      const third = await register('198.51.100.3');
      assert.equal(third.statusCode, 429);
      assert.equal(problemOf(third).code, 'too_many_requests');
    } finally {
      await t.close();
    }
  });

  test('true takes the forgeable left-most entry, and says so with a warning at start', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    assert.equal(await recordedIp({ trustProxy: true, logger: { level: 'warn', stream } }, '198.51.100.66, 203.0.113.7'), '198.51.100.66');
    assert.ok(lines.some((l) => l.includes('trustProxy is true') && l.includes('"level":40')), lines.join(''));
  });

  test('settings are checked at start, naming the variable', () => {
    assert.equal(resolveTrustProxy('2'), 2);
    assert.deepEqual(resolveTrustProxy(' 10.0.0.0/8, ::1 ,loopback'), ['10.0.0.0/8', '::1', 'loopback']);
    assert.equal(resolveTrustProxy('false'), false);
    assert.equal(serverConfigFromEnv({ TOKENSTILE_TRUST_PROXY: '1' }).app.trustProxy, 1);
    assert.deepEqual(serverConfigFromEnv({ TOKENSTILE_TRUST_PROXY: '10.1.2.3,fd00::/8' }).app.trustProxy, ['10.1.2.3', 'fd00::/8']);
    for (const bad of ['proxy.example.com', '10.0.0.0/33', '-1', '1.5', '10.0.0.1/8/8']) {
      assert.throws(() => serverConfigFromEnv({ TOKENSTILE_TRUST_PROXY: bad }), /TOKENSTILE_TRUST_PROXY/, bad);
    }
    assert.throws(() => resolveTrustProxy(-1), /trustProxy must be a whole number/);
    assert.throws(() => resolveTrustProxy({} as never), /trustProxy must be a hop count/);
    const own = (address: string) => address === '127.0.0.1';
    assert.equal(resolveTrustProxy(own), own, 'a function of your own is kept');
  });
});
