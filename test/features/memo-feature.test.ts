// A feature outside src/ (test/features/memo-feature.ts) plugged into the server through the
// `features` option: its migrations, routes, codes, sign-in gate, one-time tokens and revocation,
// on the adapter and backend the run selects (scripts/test.mjs runs it on each).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { internals } from '../../src/core/core-internals.ts';
import { featureApi } from '../../src/core/feature.ts';
import { features } from '../../src/features/index.ts';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { heldPrefix, memoEntry, memoFeature } from './memo-feature.ts';

let t: TestApp;
before(async () => {
  t = await testApp({ features: [...features, memoEntry] });
});
after(() => t.close());

const post = (url: string, payload: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url, payload, headers });

async function register(email: string): Promise<string> {
  const res = await post('/auth/register', { email, password: goodPassword });
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { user: { id: string } }).user.id;
}

describe('a feature brought by the embedder', () => {
  test('its migrations were applied once, in order, in the core\'s migration table', async () => {
    const { database } = internals(t.app.tokenstile).stores;
    const rows = await database.query<{ name: string }>("SELECT name FROM schema_migrations WHERE name LIKE 'memo/%' ORDER BY name");
    assert.deepEqual(rows.map((r) => r.name), ['memo/0001_notes', 'memo/0002_notes_at']);
    assert.deepEqual(await internals(t.app.tokenstile).stores.migrate(), [], 'nothing left to apply');
  });

  test('its routes are served, with its own tables behind them (a transaction of two inserts)', async () => {
    await register(uniqueEmail());
    const s = await t.signUp();
    const add = await post('/memo/notes', { body: 'first' }, bearer(s.accessToken));
    assert.equal(add.statusCode, 204, add.body);
    const list = await t.app.inject({ method: 'GET', url: '/memo/notes', headers: bearer(s.accessToken) });
    assert.equal(list.statusCode, 200, list.body);
    assert.deepEqual(list.json().notes, ['first', 'first (copy)']);
    const anonymous = await t.app.inject({ method: 'GET', url: '/memo/notes' });
    assert.equal(anonymous.statusCode, 401);
  });

  test('its sign-in gate answers 403 with its code and extension members, and starts no session', async () => {
    const email = `${heldPrefix}${uniqueEmail()}`;
    const userId = await register(email);
    const res = await post('/auth/login', { email, password: goodPassword }, { 'user-agent': 'memo-test' });
    assert.equal(res.statusCode, 403, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const body = res.json() as Record<string, unknown>;
    assert.equal(body.code, 'memo_hold');
    assert.equal(body.status, 403);
    assert.equal(body.title, 'This sign-in is held: redeem the memo token.');
    assert.deepEqual(body.methods, ['memo']);
    assert.match(String(body.memoToken), /^tso_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.accessToken, undefined);
    assert.deepEqual(await t.app.tokenstile.listUserSessions(userId), [], 'no session was started');
    // A wrong password is still a wrong password: the gate runs only after the password matched.
    const wrong = await post('/auth/login', { email, password: 'not the password 1' });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().code, 'invalid_credentials');
  });

  test('its one-time token starts the held session once; a second redeem is refused', async () => {
    const email = `${heldPrefix}${uniqueEmail()}`;
    const userId = await register(email);
    const first = (await post('/auth/login', { email, password: goodPassword })).json() as { memoToken: string };
    const second = (await post('/auth/login', { email, password: goodPassword })).json() as { memoToken: string };
    // The second sign-in replaced the first token (replace: true).
    const stale = await post('/memo/redeem', { token: first.memoToken });
    assert.equal(stale.statusCode, 401, stale.body);
    assert.equal(stale.json().code, 'memo_invalid');
    const redeemed = await post('/memo/redeem', { token: second.memoToken });
    assert.equal(redeemed.statusCode, 200, redeemed.body);
    const tokens = redeemed.json() as { accessToken: string; user: { id: string } };
    assert.equal(tokens.user.id, userId);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.accessToken) });
    assert.equal(me.statusCode, 200, me.body);
    const again = await post('/memo/redeem', { token: second.memoToken });
    assert.equal(again.statusCode, 401);
    assert.equal((await t.app.tokenstile.listUserSessions(userId)).length, 1);
  });

  test('the kit\'s revoke ends the other sessions at once, as logout does', async () => {
    const email = uniqueEmail();
    await register(email);
    const login = async () => (await post('/auth/login', { email, password: goodPassword })).json() as { accessToken: string };
    const keep = await login();
    const other = await login();
    const ended = await post('/memo/end-others', {}, bearer(keep.accessToken));
    assert.equal(ended.statusCode, 200, ended.body);
    assert.equal(ended.json().ended, 1);
    const refused = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(other.accessToken) });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().code, 'session_revoked');
    assert.equal((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(keep.accessToken) })).statusCode, 200);
  });

  test('featureApi gives the api its setup returned; the purge timer runs its purge', async () => {
    const api = featureApi(t.app.tokenstile, memoFeature);
    const before = api.purges;
    await t.app.tokenstile.purge();
    assert.equal(api.purges, before + 1);
    assert.throws(() => featureApi(t.app.tokenstile, 'no-such-feature'), /without the feature no-such-feature/);
  });
});
