// tokenstile/client sends the session's credentials (Bearer token, CSRF header, cookies) only to
// the API's origin and to the origins it was told to trust: never to an absolute URL elsewhere,
// however that URL is spelled. A recording `fetch` stands in for the network.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createClient, type TokenstileClient, type TokenstileClientOptions } from '../../src/client/index.ts';
import type { KeyValueStorage } from '../../src/client/index.ts';

interface Sent {
  readonly url: string;
  readonly authorization: string | null;
  readonly csrf: string | null;
  readonly credentials: RequestInit['credentials'];
}

const accessToken = 'eyJ.access.token';
const csrfToken = 'csrf-token-of-the-session';
const user = { id: 'u1', email: 'a@example.com', name: null };

/** A `fetch` that answers a header-transport login and 200 `{}` to anything else, and records each request. */
function recordingFetch(sent: Sent[], answer: (url: string) => Response | null = () => null): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = String(input);
    const headers = new Headers(init.headers);
    sent.push({ url, authorization: headers.get('authorization'), csrf: headers.get('x-csrf-token'), credentials: init.credentials });
    const given = answer(url);
    if (given) return given;
    if (url.endsWith('/auth/login')) {
      return Response.json({ tokenType: 'Bearer', accessToken, expiresIn: 900, refreshToken: 'tsr_refresh', refreshExpiresIn: 3600, session: { id: 's1' }, user });
    }
    return Response.json({});
  }) as typeof fetch;
}

/** Storage holding a signed-in cookie-transport session, as another tab would have left it. */
function signedInStorage(key: string): KeyValueStorage {
  const map = new Map([[key, JSON.stringify({ sessionId: 's1', csrfToken, expiresAt: Date.now() + 900_000, user })]]);
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

const clients: TokenstileClient[] = [];
function client(options: TokenstileClientOptions): TokenstileClient {
  const c = createClient({ autoRefresh: false, locks: null, channel: null, ...options });
  clients.push(c);
  return c;
}
after(() => clients.forEach((c) => c.close()));

/** URLs that do not point at `https://auth.example.com`, spelled in the ways a check might miss. */
const elsewhere = [
  'https://evil.example/steal',
  'HTTPS://evil.example/steal',
  'http://auth.example.com/plain-http',
  'https://auth.example.com:8443/other-port',
  '.evil.example/suffix',
  '@evil.example/userinfo',
  ':8443/port',
];

describe('header transport: the Bearer token goes to the API origin only', () => {
  test('absolute URLs on other origins get no Authorization header, however spelled', async () => {
    const sent: Sent[] = [];
    const c = client({ transport: 'header', baseUrl: 'https://auth.example.com', fetch: recordingFetch(sent) });
    await c.login({ email: user.email, password: 'correct horse 42' });
    await c.fetch('/auth/me');
    await c.fetch('https://auth.example.com/api/orders');
    assert.deepEqual(
      sent.slice(1).map((s) => [s.url, s.authorization]),
      [
        ['https://auth.example.com/auth/me', `Bearer ${accessToken}`],
        ['https://auth.example.com/api/orders', `Bearer ${accessToken}`],
      ],
    );
    for (const url of elsewhere) {
      sent.length = 0;
      const res = await c.fetch(url, { method: 'POST', json: { a: 1 } });
      assert.equal(res.status, 200);
      assert.equal(sent.length, 1);
      const target = new URL(sent[0]!.url, 'https://page.example/');
      assert.notEqual(target.origin, 'https://auth.example.com', `${url} was sent to the API: the list is wrong`);
      assert.equal(sent[0]!.authorization, null, `the token went to ${sent[0]!.url}`);
    }
  });

  test('a trusted origin gets the token; a look-alike of it does not', async () => {
    const sent: Sent[] = [];
    const c = client({ transport: 'header', baseUrl: 'https://auth.example.com', trustedOrigins: ['https://api.example.com/'], fetch: recordingFetch(sent) });
    await c.login({ email: user.email, password: 'correct horse 42' });
    sent.length = 0;
    await c.fetch('https://api.example.com/orders');
    await c.fetch('https://api.example.com.evil.example/orders');
    assert.deepEqual(
      sent.map((s) => s.authorization),
      [`Bearer ${accessToken}`, null],
    );
  });

  test('a 401 from another origin neither refreshes nor ends the session', async () => {
    const sent: Sent[] = [];
    const expired = () =>
      new Response(JSON.stringify({ type: 'x', title: 'x', status: 401, code: 'session_revoked', detail: 'x' }), { status: 401, headers: { 'content-type': 'application/problem+json' } });
    const c = client({ transport: 'header', baseUrl: 'https://auth.example.com', fetch: recordingFetch(sent, (url) => (url.startsWith('https://evil.example') ? expired() : null)) });
    const signedOut: string[] = [];
    c.on('signedout', ({ reason }) => signedOut.push(reason));
    await c.login({ email: user.email, password: 'correct horse 42' });
    assert.equal((await c.fetch('https://evil.example/x')).status, 401);
    assert.deepEqual(signedOut, []);
    assert.equal(c.user?.email, user.email);
  });

  test('trustedOrigins entries that are not http(s) origins are refused at creation', () => {
    for (const entry of ['api.example.com', 'ftp://api.example.com', 'javascript:alert(1)', '*']) {
      assert.throws(() => createClient({ transport: 'header', trustedOrigins: [entry] }), TypeError, entry);
    }
  });
});

describe('cookie transport: the CSRF header and cookies go to the API origin only', () => {
  test('a state change on another origin carries no CSRF header and no credentials', async () => {
    const sent: Sent[] = [];
    const key = `ts-origins-${Math.random().toString(36).slice(2)}`;
    const c = client({ baseUrl: 'https://auth.example.com', storage: signedInStorage(key), storageKey: key, fetch: recordingFetch(sent) });
    assert.equal(c.user?.email, user.email);
    await c.fetch('/auth/logout', { method: 'POST', json: {} });
    assert.deepEqual(sent[0], { url: 'https://auth.example.com/auth/logout', authorization: null, csrf: csrfToken, credentials: 'include' });
    for (const url of elsewhere) {
      sent.length = 0;
      await c.fetch(url, { method: 'DELETE' });
      assert.equal(sent[0]!.csrf, null, `the CSRF token went to ${sent[0]!.url}`);
      assert.notEqual(sent[0]!.credentials, 'include', `cookies were sent to ${sent[0]!.url}`);
    }
  });

  test('with the default base (this origin), a protocol-relative URL is another origin', async () => {
    const sent: Sent[] = [];
    const key = `ts-origins-${Math.random().toString(36).slice(2)}`;
    const c = client({ storage: signedInStorage(key), storageKey: key, fetch: recordingFetch(sent) });
    await c.fetch('/api/orders', { method: 'POST' });
    await c.fetch('//evil.example/api/orders', { method: 'POST' });
    assert.deepEqual(
      sent.map((s) => [s.url, s.csrf]),
      [
        ['/api/orders', csrfToken],
        ['//evil.example/api/orders', null],
      ],
    );
  });
});
