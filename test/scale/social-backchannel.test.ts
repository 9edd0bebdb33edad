// Back-channel logout on three server processes sharing PostgreSQL and Redis: sign-ins through a
// real OpenID Provider (oidc-provider) on one instance; the provider's logout (or its logout token)
// arrives at one instance, and every instance must refuse the ended session's token as soon as that
// request is answered. The time from the logout request to refusal on all three is measured.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { importJWK, SignJWT } from 'jose';
import pg from 'pg';
import { CookieAgent } from '../features/social/cookie-agent.ts';
import { startOidcProvider, type OidcProviderHarness } from '../features/social/oidc-provider-harness.ts';
import { call, cleanUp, freePort, percentile, postgresUrl, redisUrl, runId, sharedServicesProblem, startInstance, type Instance } from './harness.ts';

const problem = await sharedServicesProblem();
if (problem && process.env.CI !== 'true') console.log(`# SKIPPED social back-channel tests: ${problem}`);

/** The public name of the three instances: the redirect URI the provider knows. Requests to it are sent to instance A. */
const issuer = 'http://tokenstile.test';

describe('back-channel logout on three instances (PostgreSQL + Redis)', { skip: problem !== null && process.env.CI !== 'true' ? problem : false }, () => {
  const id = runId('social');
  const prefix = `${id}:`;
  const clientSecret = randomBytes(24).toString('base64url');
  let instances: Instance[] = [];
  let op: OidcProviderHarness;
  let db: pg.Client;

  before(async () => {
    if (problem) throw new Error(problem);
    // The provider's port first: the instances discover it lazily, after it is up.
    const opPort = await freePort();
    const providers = [{ id: 'op', issuer: `http://127.0.0.1:${opPort}`, clientId: 'tokenstile', clientSecret }];
    const env = {
      TOKENSTILE_DATABASE_URL: `${postgresUrl}?schema=${id}`,
      TOKENSTILE_REDIS_URL: redisUrl,
      TOKENSTILE_REDIS_PREFIX: prefix,
      TOKENSTILE_ISSUER: issuer,
      TOKENSTILE_RATE_LIMITS: 'off',
      TOKENSTILE_OAUTH_PROVIDERS: JSON.stringify(providers),
    };
    instances = [await startInstance(env)];
    instances.push(...(await Promise.all([startInstance(env), startInstance(env)])));
    // The provider delivers its logout tokens to instance B.
    op = await startOidcProvider({ tokenstileBase: issuer, providerId: 'op', port: opPort, clientSecret, backchannelBase: instances[1]!.url });
    db = new pg.Client({ connectionString: postgresUrl });
    await db.connect();
    // Each instance discovers the provider now, as it would at its first sign-in, not during the timed logouts.
    for (const i of instances) assert.equal((await fetch(`${i.url}/auth/oauth/op`, { redirect: 'manual' })).status, 302);
  });

  after(async () => {
    await db?.end();
    await op?.close();
    await Promise.all(instances.map((i) => i.stop()));
    await cleanUp(id, prefix);
  });

  /** Signs `login` in through the provider's pages on instance A; returns the access token and session id. */
  async function signIn(login: string): Promise<{ accessToken: string; sessionId: string; agent: CookieAgent }> {
    const a = instances[0]!;
    const agent = new CookieAgent();
    const onIssuer = (u: string) => u.startsWith(issuer);
    const first = await agent.follow(`${a.url}/auth/oauth/op?returnTo=/account`, onIssuer);
    const back = await agent.completeProviderPages(first, login, op.issuer);
    // The callback goes to the public name: here, instance A.
    const done = await agent.request(back.replace(issuer, a.url));
    assert.equal(done.status, 302, done.body);
    assert.match(done.location ?? '', /#tokenstile_signed_in=op$/);
    const accessToken = agent.cookie(new URL(a.url).host, '__Host-tokenstile-access')!;
    const me = await call(a.url, 'GET', '/auth/me', undefined, accessToken);
    assert.equal(me.status, 200);
    return { accessToken, sessionId: me.json.sessionId, agent };
  }

  /** Polls every instance until each refuses `token` (bounded); returns when the last one did, or throws. */
  async function refusedEverywhere(token: string, deadlineMs = 5000): Promise<number> {
    const start = performance.now();
    const pending = new Set(instances);
    while (pending.size > 0) {
      for (const i of [...pending]) if ((await call(i.url, 'GET', '/auth/me', undefined, token)).status === 401) pending.delete(i);
      if (performance.now() - start > deadlineMs) throw new Error(`still accepted by ${pending.size} instance(s) after ${deadlineMs} ms`);
    }
    return performance.now();
  }

  test('a logout at the provider ends the session on all three instances', async () => {
    op.accounts.set('olivia', { email: `olivia-${id}@example.com`, emailVerified: true });
    const { accessToken, agent } = await signIn('olivia');
    for (const i of instances) assert.equal((await call(i.url, 'GET', '/auth/me', undefined, accessToken)).status, 200);
    const page = await agent.follow(`${op.issuer}/session/end?client_id=tokenstile`, (u) => u.startsWith(issuer));
    const confirmedAt = performance.now();
    await agent.completeProviderPages(page, 'olivia', op.issuer).catch(() => null);
    // oidc-provider answers the confirmation once its back-channel requests are answered.
    const answered = performance.now();
    assert.equal(op.backchannelErrors.length, 0, op.backchannelErrors[0]?.message);
    for (const i of instances) assert.equal((await call(i.url, 'GET', '/auth/me', undefined, accessToken)).status, 401, `refused by ${i.url} once the provider's logout was answered`);
    console.log(`# provider logout (confirm at the provider → back-channel to B → answered): ${(answered - confirmedAt).toFixed(1)} ms`);
  });

  test('logout tokens posted to each instance in turn: refused on every instance when answered; time to refusal everywhere measured', { timeout: 120_000 }, async () => {
    const key = await importJWK(op.privateJwk, 'RS256');
    const trials = 30;
    const sessions: Array<{ login: string; accessToken: string; sid: string }> = [];
    for (let n = 0; n < trials; n++) {
      const login = `user${n}`;
      op.accounts.set(login, { email: `${login}-${id}@example.com`, emailVerified: true });
      const s = await signIn(login);
      const row = await db.query<{ sid: string }>(`SELECT sid FROM "${id}".social_sessions WHERE session_id = $1`, [s.sessionId]);
      assert.ok(row.rows[0]?.sid, 'the provider session id is kept for the session');
      sessions.push({ login, accessToken: s.accessToken, sid: row.rows[0].sid });
    }
    const answerMs: number[] = [];
    const everywhereMs: number[] = [];
    let acceptedAfterAnswer = 0;
    for (const [n, s] of sessions.entries()) {
      const target = instances[n % 3]!;
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ iss: op.issuer, aud: 'tokenstile', iat: now, exp: now + 120, jti: randomBytes(12).toString('base64url'), sub: s.login, sid: s.sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })
        .setProtectedHeader({ alg: 'RS256', kid: op.privateJwk.kid, typ: 'logout+jwt' })
        .sign(key);
      const started = performance.now();
      const res = await fetch(`${target.url}/auth/oauth/op/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }) });
      const answered = performance.now();
      assert.equal(res.status, 200, await res.text());
      // Once answered, every instance must refuse at the first try.
      for (const i of instances) if ((await call(i.url, 'GET', '/auth/me', undefined, s.accessToken)).status !== 401) acceptedAfterAnswer++;
      const refused = await refusedEverywhere(s.accessToken);
      answerMs.push(answered - started);
      everywhereMs.push(refused - started);
    }
    assert.equal(acceptedAfterAnswer, 0, 'a token of an ended session was accepted after the logout was answered');
    const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
    console.log(`# back-channel logout, ${trials} trials over 3 instances: request → 200: ${fmt(answerMs)}`);
    console.log(`# back-channel logout, request → refused by all 3 (checked after the answer): ${fmt(everywhereMs)}`);
  });
});
