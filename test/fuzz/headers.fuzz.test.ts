/**
 * Property-based fuzzing of what a client puts around a request: the Authorization header (any
 * value, and every kind of mutation of a real access token), arbitrary extra headers (lying
 * Content-Length, odd Transfer-Encoding, …), Cookie headers, and arbitrary query strings and path
 * suffixes on every route. Properties: never a 5xx, never a stack, every 4xx a complete
 * problem+json; a token that differs in any way from the real one is never accepted, while the
 * real one still is.
 *
 * "Differs": the header is `Bearer` (any case), one or more spaces, the token, and optionally
 * trailing spaces/tabs (HTTP optional whitespace, which Node's parser strips before any app sees
 * it). Anything else around or inside the token is a change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import { CaseCounter, LiveSession, anyUnicode, applyAll, b64urlChars, charMutation, checkRefused, checkResponse, headerChar, headerName, headerValue, named, namesOf, runs, toggleCase, type Mutation } from './fuzz-helpers.ts';

let t: TestApp;
let session: LiveSession;
const counter = new CaseCounter();

before(async () => {
  t = await testApp();
  const email = uniqueEmail();
  session = new LiveSession(t.app, email, goodPassword, await t.signUp(email, goodPassword));
});
after(() => t.close());

const me = (headers: Record<string, string | string[]>) => t.app.inject({ method: 'GET', url: '/auth/me', headers });

/**
 * How the server must treat an Authorization header, given the real token:
 * - 'accept': `Bearer` (any case), one or more spaces, the token, optional trailing SP/HTAB;
 * - 'either': the same with tabs mixed into the whitespace before the token (RFC 6750 wants SP
 *   only, but it is formatting, not a change to the token: refusing or accepting are both fine);
 * - 'refuse': anything else, i.e. any change at all to the token text.
 */
function verdict(authorization: string): 'accept' | 'either' | 'refuse' {
  const token = session.accessToken;
  const m = /^bearer ([ \t]*)(.*?)[ \t]*$/is.exec(authorization);
  if (!m || m[2] !== token) return 'refuse';
  return /^ *$/.test(m[1]!) ? 'accept' : 'either';
}

/** Printable form of header text: every non-ASCII or control character as \uXXXX. */
function visible(s: string): string {
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function checkAuthorization(property: string, authorization: string): Promise<void> {
  const what = `${property}: Authorization ${visible(authorization)}`;
  const res = await me({ authorization });
  counter.saw(property, res);
  checkResponse(res, { what });
  const v = verdict(authorization);
  if (v === 'accept') {
    assert.equal(res.statusCode, 200, `${what}: the real token, correctly spelled, was refused: ${res.body}`);
    assert.equal(res.json().sessionId, session.tokens.session.id);
  } else if (v === 'refuse') {
    assert.notEqual(res.statusCode, 200, `${what}: ACCEPTED a header whose token is not the real token: ${res.body}`);
    checkRefused(res, ['invalid_token'], what);
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations of a real token

// U+00A0 (NBSP) is a legal header byte that JavaScript's String#trim() strips: it has its own
// property below, so that one finding does not mask everything else these properties check.
const NBSP = '\u00a0';
/** Characters a mutation inserts or substitutes: mostly the token's own alphabet, then anything legal in a header. */
const mutationChar: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...b64urlChars), weight: 6 },
  { arbitrary: fc.constantFrom('.', '=', '+', '/', ' ', '\t', '%', '~', ','), weight: 2 },
  { arbitrary: headerChar.filter((c) => c !== NBSP), weight: 2 },
);

const segmentsOf = (token: string) => token.split('.');

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: charMutation(mutationChar), weight: 3 },
  fc.constantFrom<Mutation>(
    named('swap header/payload', (s) => { const [h, p, g] = segmentsOf(s); return [p, h, g].join('.'); }),
    named('swap payload/signature', (s) => { const [h, p, g] = segmentsOf(s); return [h, g, p].join('.'); }),
    named('reverse segments', (s) => segmentsOf(s).reverse().join('.')),
    named('drop signature', (s) => segmentsOf(s).slice(0, 2).join('.') + '.'),
    named('no signature segment', (s) => segmentsOf(s).slice(0, 2).join('.')),
    named('duplicate payload', (s) => { const [h, p, g] = segmentsOf(s); return [h, p, p, g].join('.'); }),
    named('token twice', (s) => `${s}.${s}`),
    named('token twice, comma', (s) => `${s}, ${s}`),
    named('pad every segment', (s) => segmentsOf(s).map((x) => x + '='.repeat((4 - (x.length % 4)) % 4)).join('.')),
    named('pad with ==', (s) => segmentsOf(s).map((x) => `${x}==`).join('.')),
    named('standard base64 alphabet', (s) => s.replaceAll('-', '+').replaceAll('_', '/')),
    named('standard base64, padded', (s) => segmentsOf(s).map((x) => Buffer.from(x, 'base64url').toString('base64')).join('.')),
    named('upper-case', (s) => s.toUpperCase()),
    named('lower-case', (s) => s.toLowerCase()),
    named('swap case', (s) => [...s].map(toggleCase).join('')),
    named('percent-encode dots', (s) => s.replaceAll('.', '%2E')),
    named('URL-encode', (s) => encodeURIComponent(s + '=')),
    named('quoted', (s) => `"${s}"`),
    named('trailing dot', (s) => `${s}.`),
    named('leading dot', (s) => `.${s}`),
    named('space inside', (s) => s.replace('.', ' .')),
    named('tab inside', (s) => s.replace('.', '.\t')),
    named('header JSON re-serialized with spaces', (s) => reencode(s, 0, (v) => JSON.stringify(v, null, 1))),
    named('payload JSON re-serialized with spaces', (s) => reencode(s, 1, (v) => JSON.stringify(v, null, 1))),
    named('payload JSON keys reordered', (s) => reencode(s, 1, (v) => JSON.stringify(Object.fromEntries(Object.entries(v as object).reverse())))),
    named('payload JSON with a BOM', (s) => reencodeText(s, 1, (text) => `\ufeff${text}`)),
    named('payload JSON with trailing space', (s) => reencodeText(s, 1, (text) => `${text} `)),
    named('header alg none', (s) => reencode(s, 0, (v) => JSON.stringify({ ...(v as object), alg: 'none' }))),
    named('signature: high s (n - s)', highS),
    named('signature: non-canonical last char', nonCanonicalLastChar),
    named('signature DER-encoded', derSignature),
  ),
);

/** Re-encodes segment `index` from its decoded JSON. */
function reencode(token: string, index: number, serialize: (value: unknown) => string): string {
  return reencodeText(token, index, (text) => serialize(JSON.parse(text)));
}

/** Re-encodes segment `index` after changing its decoded text; the token unchanged if that segment is not JSON any more. */
function reencodeText(token: string, index: number, change: (text: string) => string): string {
  const parts = segmentsOf(token);
  try {
    parts[index] = Buffer.from(change(Buffer.from(parts[index] ?? '', 'base64url').toString('utf8'))).toString('base64url');
  } catch {
    return token;
  }
  return parts.join('.');
}

const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** The ES256 signature's twin (r, n - s): valid for ECDSA, refused by our low-s rule. */
function highS(token: string): string {
  const [h, p, g] = segmentsOf(token);
  const sig = Buffer.from(g ?? '', 'base64url');
  if (sig.length !== 64) return `${token}x`;
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  const twin = Buffer.concat([sig.subarray(0, 32), Buffer.from((p256Order - s).toString(16).padStart(64, '0'), 'hex')]);
  return [h, p, twin.toString('base64url')].join('.');
}

/** Flips the unused low bits of the signature's last base64url character (same bytes, other text). */
function nonCanonicalLastChar(token: string): string {
  const last = token.at(-1) ?? 'A';
  const i = b64urlChars.indexOf(last);
  return token.slice(0, -1) + b64urlChars[(i & ~0b1111) | (~i & 0b1111)];
}

/** The ES256 signature as DER (what OpenSSL emits) instead of r||s. */
function derSignature(token: string): string {
  const [h, p, g] = segmentsOf(token);
  const sig = Buffer.from(g ?? '', 'base64url');
  const int = (b: Buffer) => {
    let x = b;
    while (x.length > 1 && x[0] === 0 && (x[1]! & 0x80) === 0) x = x.subarray(1);
    if (x[0]! & 0x80) x = Buffer.concat([Buffer.from([0]), x]);
    return Buffer.concat([Buffer.from([2, x.length]), x]);
  };
  const body = Buffer.concat([int(sig.subarray(0, 32)), int(sig.subarray(32))]);
  return [h, p, Buffer.concat([Buffer.from([0x30, body.length]), body]).toString('base64url')].join('.');
}

/** How the header carries the (mutated) token: scheme case, spaces, trailing optional whitespace. */
const headerShape = fc.record({
  scheme: fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR'),
  spaces: fc.integer({ min: 1, max: 3 }),
  trailing: fc.constantFrom('', ' ', '\t', ' \t '),
});
type HeaderShape = { scheme: string; spaces: number; trailing: string };
const shaped = (shape: HeaderShape, token: string) => `${shape.scheme}${' '.repeat(shape.spaces)}${token}${shape.trailing}`;

describe('Authorization header', () => {
  test('arbitrary values: never 5xx or a stack; 200 only for the real token, correctly spelled', async (tc) => {
    const name = 'arbitrary Authorization';
    const aroundToken = fc.string({ unit: headerChar.filter((c) => c !== NBSP), maxLength: 6 });
    const value = fc.oneof(
      headerValue(300),
      anyUnicode(20).map((s) => `Bearer ${Buffer.from(s).toString('latin1')}`),
      fc.tuple(fc.constantFrom('Bearer', 'bearer', 'Basic', 'Token', 'DPoP', 'JWT', 'Bearer:', '', 'Bearer,'), fc.constantFrom(' ', '  ', '\t', '', ', '), headerValue(120)).map(([s, sep, v]) => `${s}${sep}${v}`),
      fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Token ', 'Basic ', '', 'Bearer', 'Bearer\t', 'Bearer  '), aroundToken, aroundToken).map(([s, pre, post]) => `${s}${pre}\u0000REAL\u0000${post}`),
      fc.array(fc.base64String({ maxLength: 60 }).map((b) => b.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '')), { minLength: 1, maxLength: 5 }).map((segs) => `Bearer ${segs.join('.')}`),
      fc.constantFrom('Bearer', 'Bearer ', 'Bearer  ', 'Bearer .', 'Bearer ..', 'Bearer null', 'Bearer undefined', 'Bearer [object Object]', `Bearer ${'A'.repeat(9000)}`, `Bearer ${'a.'.repeat(3000)}a`),
    );
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        counter.hit(name);
        await checkAuthorization(name, v.replace('\u0000REAL\u0000', session.accessToken));
      }),
      runs(300),
    );
    await session.assertValid(name);
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });

  test('a mutated real token is never accepted; the real one, however the header is shaped, still is', async (tc) => {
    const name = 'mutated real token';
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), headerShape, async (mutations, shape) => {
        counter.hit(name);
        const real = session.accessToken;
        const mutated = applyAll(mutations, real);
        const header = shaped(shape, mutated);
        const what = `${name} [${namesOf(mutations)}]`;
        const res = await me({ authorization: header });
        counter.saw(name, res);
        checkResponse(res, { what });
        const v = verdict(header);
        if (v === 'accept') {
          // The mutations cancelled out (or only added optional whitespace): still the real token.
          assert.equal(res.statusCode, 200, `${what}: the real token was refused: ${res.body}`);
        } else if (v === 'refuse') {
          assert.notEqual(res.statusCode, 200, `${what}: ACCEPTED a mutated token ${visible(mutated)} (real ${real})`);
          checkRefused(res, ['invalid_token'], what);
        }
        const again = await me({ authorization: shaped(shape, real) });
        assert.equal(again.statusCode, 200, `${what}: afterwards the real token (header ${JSON.stringify(shaped(shape, real))}) is refused: ${again.body}`);
      }),
      runs(600),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });

  test('a real token with U+00A0 (NBSP) around it is a different token and is refused (found by this fuzzer; only spaces and tabs are trimmed)', async (tc) => {
    // NBSP (byte 0xA0) is legal in an HTTP header value and reaches the app as U+00A0; Node's parser
    // strips only SP/HTAB. `bearerToken()` uses String#trim(), which also strips U+00A0, so
    // `Bearer <token>\xA0` is accepted as <token>: a second spelling of the same token.
    const name = 'NBSP around the real token';
    const ows = fc.string({ unit: fc.constantFrom(' ', '\t', NBSP), maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(ows, ows, fc.boolean(), headerShape, async (before, afterToken, nbspFirst, shape) => {
        counter.hit(name);
        // At least one NBSP, before or after the token.
        const pre = nbspFirst ? NBSP + before : before;
        const post = nbspFirst ? afterToken : afterToken + NBSP;
        await checkAuthorization(name, shaped(shape, `${pre}${session.accessToken}${post}`));
      }),
      runs(60),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });

  test('several Authorization headers: never 5xx; a mutated first one is never accepted', async (tc) => {
    const name = 'repeated Authorization';
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(headerValue(60), fc.constantFrom('\u0000REAL\u0000', '\u0000MUT\u0000')), { minLength: 2, maxLength: 4 }), fc.array(mutation, { minLength: 1, maxLength: 2 }), async (values, mutations) => {
        counter.hit(name);
        const mutated = applyAll(mutations, session.accessToken);
        const headers = values.map((v) => (v === '\u0000REAL\u0000' ? `Bearer ${session.accessToken}` : v === '\u0000MUT\u0000' ? `Bearer ${mutated}` : v));
        const res = await me({ authorization: headers });
        counter.saw(name, res);
        checkResponse(res, { what: `${name} ${JSON.stringify(headers)}` });
        // Node keeps the first Authorization header and drops the rest: the first decides.
        if (res.statusCode === 200) assert.notEqual(verdict(headers[0]!), 'refuse', `${name}: accepted ${visible(JSON.stringify(headers))}`);
      }),
      runs(100),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Extra headers and cookies

/** Headers with a history of confusing servers, with hostile values. */
const notableHeader = fc.oneof(
  fc.tuple(fc.constant('content-length'), fc.oneof(fc.integer({ min: -5, max: 100_000 }).map(String), fc.constantFrom('', 'abc', '1e3', '0x10', ' 5', '5, 5', '-0', '99999999999999999999'))),
  fc.tuple(fc.constant('transfer-encoding'), fc.constantFrom('chunked', 'identity', 'gzip', 'chunked, gzip', 'gzip, chunked', 'xchunked', '')),
  fc.tuple(fc.constant('content-type'), fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-7', 'multipart/form-data', ''), headerValue(40))),
  fc.tuple(fc.constant('content-encoding'), fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x')),
  fc.tuple(fc.constantFrom('expect', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive'), fc.constantFrom('100-continue', 'close', 'upgrade', 'websocket', 'trailers', 'x')),
  fc.tuple(fc.constantFrom('host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'forwarded', 'origin', 'referer'), headerValue(80)),
  fc.tuple(fc.constantFrom('x-http-method-override', 'x-method-override'), fc.constantFrom('DELETE', 'GET', 'POST', 'PATCH')),
  fc.tuple(fc.constantFrom('x-csrf-token', 'tokenstile-transport', 'accept', 'accept-encoding', 'accept-language', 'range', 'if-none-match', 'if-modified-since', 'cache-control'), headerValue(80)),
  fc.tuple(fc.constant('user-agent'), fc.oneof(headerValue(80), fc.integer({ min: 500, max: 20_000 }).map((n) => 'U'.repeat(n)))),
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty'), headerValue(20)),
);
const extraHeaders = fc
  .array(fc.oneof(notableHeader, fc.tuple(headerName, headerValue(100))), { maxLength: 8 })
  .map((pairs) => Object.fromEntries(pairs.filter(([n]) => n.toLowerCase() !== 'authorization').map(([n, v]) => [n, v])) as Record<string, string>);

/** A Cookie header: name=value pairs with names a cookie transport might use, or any text. */
const cookieValue = fc.oneof(
  { arbitrary: headerValue(200), weight: 1 },
  {
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('__Host-access', '__Host-tokenstile-access', '__Host-tokenstile_access', 'access_token', 'accessToken', 'tokenstile_access', 'refresh_token', '__Secure-tokenstile-refresh', 'tokenstile_refresh', 'csrf', '__proto__', 'constructor'), headerName),
          fc.oneof(fc.constantFrom('\u0000ACCESS\u0000', '\u0000MUTATED\u0000', '\u0000REFRESH\u0000', ''), fc.string({ unit: headerChar.filter((c) => c !== ';'), maxLength: 60 })),
        ),
        { maxLength: 6 },
      )
      .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('; ')),
    weight: 3,
  },
);

describe('extra headers and cookies', () => {
  test('arbitrary extra headers next to the real token: never 5xx, never a stack, never a 401', async (tc) => {
    const name = 'extra headers';
    const routes = [
      { method: 'GET', url: '/auth/me', payload: undefined },
      { method: 'GET', url: '/auth/sessions', payload: undefined },
      { method: 'PATCH', url: '/auth/me', payload: '{"name":"Fuzzed"}' },
      { method: 'GET', url: '/.well-known/jwks.json', payload: undefined },
      { method: 'GET', url: '/healthz', payload: undefined },
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), extraHeaders, async (route, extra) => {
        counter.hit(name);
        const what = `${name}: ${route.method} ${route.url} ${JSON.stringify(extra).slice(0, 500)}`;
        const headers: Record<string, string> = { ...(route.payload && { 'content-type': 'application/json' }), ...extra, ...bearer(session.accessToken) };
        const res = await t.app.inject({ method: route.method, url: route.url, headers, ...(route.payload && { payload: route.payload }) });
        counter.saw(name, res);
        checkResponse(res, { what, reflected: Object.values(extra) });
        assert.notEqual(res.statusCode, 401, `${what}: the real token was refused because of another header: ${res.body}`);
        if (route.method === 'GET') assert.equal(res.statusCode, 200, `${what}: ${res.body}`);
        await session.assertValid(what);
      }),
      runs(250),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });

  test('arbitrary Cookie headers: never 5xx; never authenticate anything but the exact real token; never change state without CSRF', async (tc) => {
    const name = 'cookies';
    const routes = [
      { method: 'GET', url: '/auth/me', changes: false },
      { method: 'GET', url: '/auth/sessions', changes: false },
      { method: 'POST', url: '/auth/logout', changes: true },
      { method: 'PATCH', url: '/auth/me', changes: true },
      { method: 'POST', url: '/auth/password', changes: true },
      { method: 'DELETE', url: '/auth/sessions/\u0000SID\u0000', changes: true },
      { method: 'POST', url: '/auth/refresh', changes: true },
    ] as const;
    const bodies: Record<string, string> = {
      '/auth/logout': '{"scope":"global"}',
      '/auth/me': '{"name":"via cookie"}',
      '/auth/password': JSON.stringify({ currentPassword: goodPassword, newPassword: goodPassword }),
      '/auth/refresh': '{}',
    };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), cookieValue, fc.array(mutation, { minLength: 1, maxLength: 2 }), fc.boolean(), async (route, cookie, mutations, withBearer) => {
        counter.hit(name);
        const real = session.accessToken;
        const mutated = applyAll(mutations, real);
        const cookieHeader = cookie
          .replaceAll('\u0000ACCESS\u0000', real)
          .replaceAll('\u0000MUTATED\u0000', mutated.replaceAll(';', ''))
          .replaceAll('\u0000REFRESH\u0000', session.tokens.refreshToken);
        const url = route.url.replace('\u0000SID\u0000', session.tokens.session.id);
        const payload = bodies[route.url];
        const headers: Record<string, string> = { cookie: cookieHeader, ...(payload && { 'content-type': 'application/json' }) };
        // State-changing routes are sent with the cookie only: a cookie must never be enough for them.
        const sendBearer = withBearer && !route.changes;
        if (sendBearer) Object.assign(headers, bearer(real));
        const what = `${name}: ${route.method} ${route.url} bearer=${sendBearer} Cookie: ${JSON.stringify(cookieHeader).slice(0, 400)}`;
        const res = await t.app.inject({ method: route.method, url, headers, ...(payload && { payload }) });
        counter.saw(name, res);
        checkResponse(res, { what, secrets: [goodPassword], reflected: [cookieHeader] });
        if (route.changes) {
          assert.ok(res.statusCode >= 400, `${what}: a state-changing request with no Authorization and no X-CSRF-Token succeeded (${res.statusCode})`);
        } else if (!sendBearer && res.statusCode === 200) {
          // Cookie transport: only the exact real access token as a cookie value may authenticate.
          const values = cookieHeader.split(';').map((p) => p.slice(p.indexOf('=') + 1).trim());
          assert.ok(values.includes(real), `${what}: authenticated by a cookie that does not carry the real token`);
        }
        if (sendBearer && route.url === '/auth/me') assert.equal(res.statusCode, 200, `${what}: the real Bearer token was refused next to a cookie: ${res.body}`);
        await session.assertValid(what);
      }),
      runs(250),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Query strings and path suffixes

interface Route {
  readonly method: string;
  readonly path: string;
  readonly auth: boolean;
  /** 2xx expected with no suffix and any query (for the GET routes). */
  readonly okStatus?: number;
}

const routes: readonly Route[] = [
  { method: 'POST', path: '/auth/register', auth: false },
  { method: 'POST', path: '/auth/login', auth: false },
  { method: 'POST', path: '/auth/refresh', auth: false },
  { method: 'POST', path: '/auth/logout', auth: true },
  { method: 'GET', path: '/auth/me', auth: true, okStatus: 200 },
  { method: 'PATCH', path: '/auth/me', auth: true },
  { method: 'GET', path: '/auth/sessions', auth: true, okStatus: 200 },
  { method: 'DELETE', path: '/auth/sessions/', auth: true },
  { method: 'POST', path: '/auth/password', auth: true },
  { method: 'GET', path: '/.well-known/jwks.json', auth: false, okStatus: 200 },
  { method: 'GET', path: '/.well-known/oauth-authorization-server', auth: false },
  { method: 'GET', path: '/healthz', auth: false, okStatus: 200 },
  { method: 'GET', path: '/readyz', auth: false, okStatus: 200 },
  { method: 'GET', path: '/metrics', auth: false, okStatus: 200 },
  { method: 'GET', path: '/docs', auth: false },
  { method: 'GET', path: '/', auth: false },
];

const percent = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
  fc.constantFrom('%', '%z', '%zz', '%G0', '%E0%A4%A', '%C0%AE', '%ED%A0%80', '%FF%FE', '%00', '%2e%2e', '%2F', '%5C', '%25'),
);
const pathChar = fc.oneof(
  { arbitrary: fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@'), weight: 4 },
  { arbitrary: fc.constantFrom('/', '//', '/..', '/.', '\\', '..', '[', ']', '{', '}', '|', '^', '`', '<', '>', '"', ' ', '\t'), weight: 2 },
  { arbitrary: percent, weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 2 }), weight: 1 },
);
const pathSuffix = fc.oneof(
  { arbitrary: fc.constant(''), weight: 3 },
  { arbitrary: fc.string({ unit: pathChar, maxLength: 12 }), weight: 6 },
  { arbitrary: fc.integer({ min: 100, max: 3000 }).map((n) => 'x'.repeat(n)), weight: 1 },
);
const queryPart = fc.oneof(
  fc.string({ unit: pathChar, maxLength: 10 }),
  anyUnicode(10).map((s) => s.replace(/[\ud800-\udfff]/g, '')).map((s) => encodeURIComponent(s)),
  fc.constantFrom('__proto__', '__proto__[polluted]', 'constructor[prototype][polluted]', 'a[]', 'a[0]', 'a[b][c]', 'scope', 'refreshToken', 'access_token', 'token', 'redirect', 'email', ''),
);
const query = fc.oneof(
  { arbitrary: fc.constant(''), weight: 2 },
  { arbitrary: fc.array(fc.tuple(queryPart, fc.option(queryPart, { nil: undefined })), { minLength: 1, maxLength: 6 }).map((pairs) => `?${pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join('&')}`), weight: 6 },
  { arbitrary: headerValue(60).map((s) => `?${s}`), weight: 2 },
  { arbitrary: fc.constantFrom('?', '??', '?&&&', '?#', '?a=1#frag', `?${'a=1&'.repeat(2000)}`), weight: 1 },
);
const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

describe('query strings and path suffixes', () => {
  test('every route, any path suffix and query: never 5xx, never a stack; the GET routes still answer', async (tc) => {
    const name = 'paths and queries';
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), pathSuffix, query, fc.option(fc.constantFrom(...methods), { nil: undefined, freq: 5 }), async (route, suffix, q, otherMethod) => {
        counter.hit(name);
        const method = otherMethod ?? route.method;
        let path = route.path + suffix;
        // Never our own session id exactly: DELETE /auth/sessions/<ours> would legitimately end it.
        if (path.replace(/\/+$/, '') === `/auth/sessions/${session.tokens.session.id}`) path += 'x';
        const url = path + q;
        const what = `${name}: ${method} ${JSON.stringify(url).slice(0, 300)}`;
        let res: LightMyRequestResponse;
        try {
          res = await t.app.inject({ method: method as 'GET', url, headers: route.auth ? bearer(session.accessToken) : {} });
        } catch (err) {
          // light-my-request itself refused the URL: not something a server can receive.
          assert.match(String(err), /Invalid URL|URI malformed/, `${what}: inject threw ${String(err)}`);
          counter.note(name, 'skipped: inject refused the URL');
          return;
        }
        counter.saw(name, res);
        checkResponse(res, { what, reflected: [path, url, suffix] });
        if (suffix === '' && method === route.method && route.okStatus !== undefined) assert.equal(res.statusCode, route.okStatus, `${what}: ${res.body.slice(0, 300)}`);
        if (method === 'POST' && route.path === '/auth/logout' && res.statusCode === 204) {
          // No body means scope "local": the session ended, as it should; continue with a new one.
          assert.equal((await session.me()).statusCode, 401, `${what}: logout answered 204 but the session still works`);
          await session.renew();
        } else {
          await session.assertValid(what);
        }
      }),
      runs(600),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}; session renewed ${session.renewals} times after a fuzzed logout`);
  });
});

test('headers.fuzz: the real token is still accepted at the end', async (tc) => {
  await session.assertValid('end of headers.fuzz');
  tc.diagnostic(`headers.fuzz: ${counter.total} cases in total (${counter.summary()})`);
});
