/**
 * Property-based fuzzing of every endpoint that takes a body: arbitrary JSON, the right keys with
 * values of any type, huge / Unicode / control-character strings, deep nesting, prototype-pollution
 * keys, and raw bytes under any content type. Properties: never a 5xx; every 4xx is a complete
 * problem+json; no stack, `Error:` internals or submitted password in any answer; Object.prototype
 * untouched; and the signed-in session used for the protected endpoints is still valid afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, goodPassword, testApp, uniqueEmail, type TestApp } from '../helpers.ts';
import {
  CaseCounter,
  LiveSession,
  RawJson,
  anyUnicode,
  assertPrototypeClean,
  checkResponse,
  controlString,
  deepJsonText,
  headerValue,
  hugeString,
  isDistinctive,
  objectText,
  pollutionKeys,
  pollutionValue,
  prototypeSnapshot,
  runs,
  stringLeaves,
  valueText,
  weirdString,
} from './fuzz-helpers.ts';

let t: TestApp;
let session: LiveSession;
let snapshot: string;
const counter = new CaseCounter();

before(async () => {
  t = await testApp();
  const email = uniqueEmail();
  session = new LiveSession(t.app, email, goodPassword, await t.signUp(email, goodPassword));
  snapshot = prototypeSnapshot();
});
after(() => t.close());

interface Endpoint {
  readonly method: 'POST' | 'PATCH';
  readonly url: string;
  readonly auth: boolean;
  readonly fields: readonly string[];
  /** Fields whose value is a password: never to be echoed. */
  readonly secretFields: readonly string[];
}

const endpoints: readonly Endpoint[] = [
  { method: 'POST', url: '/auth/register', auth: false, fields: ['email', 'password', 'name'], secretFields: ['password'] },
  { method: 'POST', url: '/auth/login', auth: false, fields: ['email', 'password'], secretFields: ['password'] },
  { method: 'POST', url: '/auth/refresh', auth: false, fields: ['refreshToken'], secretFields: [] },
  { method: 'POST', url: '/auth/logout', auth: true, fields: ['scope'], secretFields: [] },
  { method: 'PATCH', url: '/auth/me', auth: true, fields: ['name'], secretFields: [] },
  { method: 'POST', url: '/auth/password', auth: true, fields: ['currentPassword', 'newPassword'], secretFields: ['currentPassword', 'newPassword'] },
];

// Placeholders replaced at run time by the live values, so fuzzed bodies also reach the paths
// behind a successful check (the right password, a real refresh token, our email).
const CURRENT_PASSWORD = '@@current-password@@';
const OUR_EMAIL = '@@our-email@@';
const REFRESH_TOKEN = '@@refresh-token@@';

function substitute(text: string): string {
  return text
    .replaceAll(CURRENT_PASSWORD, jsonInner(session.password))
    .replaceAll(OUR_EMAIL, jsonInner(session.email))
    .replaceAll(REFRESH_TOKEN, jsonInner(session.tokens.refreshToken));
}
const jsonInner = (s: string) => JSON.stringify(s).slice(1, -1);

/** A field value of any JSON type, biased towards strings that reach the core. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 4 },
  { arbitrary: weirdString, weight: 6 },
  { arbitrary: fc.emailAddress(), weight: 2 },
  { arbitrary: fc.emailAddress().map((e) => ` ${e.toUpperCase()}\t`), weight: 1 },
  { arbitrary: fc.string({ minLength: 8, maxLength: 300 }), weight: 2 },
  { arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1e308, -0, 0.5, '', [], {}, 'local', 'global', 'others', 'LOCAL', ' local', CURRENT_PASSWORD, OUR_EMAIL, REFRESH_TOKEN, goodPassword, 'tsr_', 'a@b.co'), weight: 3 },
  { arbitrary: deepJsonText.map((text) => new RawJson(text)), weight: 1 },
  { arbitrary: pollutionValue, weight: 1 },
);

interface BodyCase {
  readonly kind: string;
  readonly payload: string | Buffer | undefined;
  readonly contentType: string | undefined;
  /** For non-JSON cases, the strings submitted (JSON cases are read from the payload at run time). */
  readonly strings: readonly string[];
}

function jsonCase(kind: string, text: string): BodyCase {
  return { kind, payload: text, contentType: 'application/json', strings: [] };
}

/** Every string submitted (keys and values, placeholders filled in), for the reflection allowance. */
function submittedStrings(c: BodyCase): string[] {
  const raw = c.kind === 'rawText' || c.kind === 'malformedWithPassword' || typeof c.payload !== 'string' ? [...c.strings] : collectStrings(c.payload);
  return raw.map(substitute);
}

/** The string values in JSON text (keys and values), or the text itself when it is not JSON. */
function collectStrings(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(substitute(text));
  } catch {
    return [text];
  }
  return stringLeaves(parsed, []);
}

/** Arbitrary JSON values as the whole body. */
const arbitraryJson = fc.jsonValue({ maxDepth: 6 }).map((v) => jsonCase('jsonValue', JSON.stringify(v) ?? 'null'));

/** The endpoint's keys (each maybe missing, maybe twice) with values of any type, maybe extra keys. */
const rightKeys = (e: Endpoint) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...e.fields), anyValue), { minLength: 0, maxLength: e.fields.length + 2 }),
      fc.record(Object.fromEntries(e.fields.map((f) => [f, anyValue])) as Record<string, fc.Arbitrary<unknown>>, { requiredKeys: [] }),
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...pollutionKeys), fc.string({ maxLength: 10 })), anyValue), { maxLength: 2 }),
      fc.boolean(),
    )
    .map(([extra, record, unknownKeys, extraFirst]) => {
      const entries: Array<[string, unknown]> = [...Object.entries(record), ...extra];
      if (extraFirst) entries.unshift(...unknownKeys);
      else entries.push(...unknownKeys);
      return jsonCase('rightKeys', objectText(entries));
    });

/** The endpoint's keys all present with schema-valid types but hostile string content. */
const hostileStrings = (e: Endpoint) =>
  fc
    .tuple(...e.fields.map(() => fc.oneof(weirdString, hugeString(1000, 17_000), controlString(64), anyUnicode(300), fc.constantFrom(CURRENT_PASSWORD, OUR_EMAIL, REFRESH_TOKEN, 'local', 'others'))))
    .map((values) => jsonCase('hostileStrings', objectText(e.fields.map((f, i) => [f, values[i]] as const))));

/** Text with no whitespace and no "@" (any Unicode otherwise): a part of a plausible email. */
const emailPart = (min: number) => anyUnicode(30).map((p) => p.replace(/[\s@]/gu, '')).filter((p) => p.length >= min);

/** Field values of the right JSON type, hostile content: bodies that pass the schema and reach the core. */
const fieldValue: Record<string, fc.Arbitrary<unknown>> = {
  email: fc.oneof(
    fc.emailAddress(),
    fc.tuple(emailPart(1), emailPart(1), emailPart(1)).map(([a, b, c]) => `${a}@${b}.${c}`),
    fc.tuple(controlString(8), fc.emailAddress()).map(([c, e]) => `${c}${e}`),
    fc.emailAddress().map((e) => `  ${e.toUpperCase()}\n`),
    fc.constantFrom(OUR_EMAIL, `${'a'.repeat(250)}@b.co`, `${'a'.repeat(64)}@${'b'.repeat(250)}.com`),
  ),
  password: fc.oneof(
    fc.constant(CURRENT_PASSWORD),
    fc.string({ minLength: 8, maxLength: 300 }),
    anyUnicode(300).filter((p) => p.length >= 8),
    controlString(300).filter((p) => p.length >= 8),
    fc.integer({ min: 250, max: 260 }).map((n) => `a1${'😀'.repeat(n - 2)}`),
    fc.integer({ min: 1, max: 12 }).map((n) => `ﬁ1${'\u0301'.repeat(n)}`),
    hugeString(257, 17_000),
  ),
  name: fc.oneof(fc.constant(null), weirdString, fc.integer({ min: 98, max: 102 }).map((n) => '😀'.repeat(n)), fc.constantFrom('', '   ', '\u200b', ' x ')),
  refreshToken: fc.oneof(
    fc.constant(REFRESH_TOKEN),
    fc.base64String({ minLength: 92, maxLength: 92 }).map((b) => `tsr_${b.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', 'A')}`),
    fc.string({ maxLength: 1030 }),
  ),
  scope: fc.oneof(fc.constantFrom('local', 'global', 'others'), weirdString),
};
fieldValue.currentPassword = fc.oneof({ arbitrary: fc.constant(CURRENT_PASSWORD), weight: 3 }, { arbitrary: fieldValue.password!, weight: 1 });
fieldValue.newPassword = fieldValue.password!;

const coreReaching = (e: Endpoint) =>
  fc
    .record(Object.fromEntries(e.fields.map((f) => [f, fieldValue[f]!])) as Record<string, fc.Arbitrary<unknown>>, {
      requiredKeys: e.fields.filter((f) => f !== 'name' || e.url !== '/auth/register') as string[],
    })
    .map((body) => jsonCase('coreReaching', objectText(Object.entries(body))));

/** Deep nesting as the body or as a field's value. */
const deep = (e: Endpoint) =>
  fc.tuple(deepJsonText, fc.constantFrom(...e.fields), fc.boolean()).map(([text, field, whole]) => jsonCase('deep', whole ? text : objectText([[field, new RawJson(text)]])));

/** `__proto__` / `constructor` keys at the top level or nested, next to otherwise valid fields. */
const pollution = (e: Endpoint) =>
  fc
    .tuple(fc.constantFrom(...pollutionKeys), pollutionValue, fc.constantFrom(...e.fields), fc.constantFrom('top', 'nested', 'only'), anyValue)
    .map(([key, value, field, where, fieldValue]) => {
      const evil: [string, unknown] = [key, value];
      const entries: Array<[string, unknown]> =
        where === 'only' ? [evil] : where === 'top' ? [[field, fieldValue], evil] : [[field, new RawJson(objectText([evil]))]];
      return jsonCase('pollution', objectText(entries));
    });

const contentTypes = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/json; charset=utf-16le',
    'application/json;charset="latin1"',
    'application/json;',
    'application/json, text/plain',
    'application/jsonx',
    'application/merge-patch+json',
    'application/problem+json',
    'text/plain',
    'text/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    '*/*',
    ';',
    '',
  ),
  headerValue(80),
  headerValue(40).map((p) => `application/json; ${p}`),
);

/** Raw bytes under any content type (or none). */
const rawBytes = fc
  .tuple(fc.uint8Array({ maxLength: 2048 }), fc.option(contentTypes, { nil: undefined }))
  .map(([bytes, contentType]): BodyCase => ({ kind: 'rawBytes', payload: Buffer.from(bytes), contentType, strings: [] }));

/** Raw text (UTF-8 of any string, often JSON-looking) under any content type. */
const rawText = fc
  .tuple(fc.oneof(anyUnicode(400), fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', ' ', 'a', 'e', '-', '.', '1', 'n', 't', 'f'), maxLength: 200 })), fc.option(contentTypes, { nil: undefined }))
  .map(([text, contentType]): BodyCase => ({ kind: 'rawText', payload: text, contentType, strings: [text] }));

/** Malformed JSON with a password inside: the parser's complaint must not quote it back. */
const malformedWithPassword = (e: Endpoint) =>
  fc
    .tuple(
      fc.oneof(fc.string({ minLength: 8, maxLength: 40 }), fc.stringMatching(/^[A-Za-z0-9]{8,14}$/), fc.constant(CURRENT_PASSWORD)),
      fc.constantFrom(
        (f: string, p: string) => `{"${f}":${p}}`,
        (f: string, p: string) => `{"${f}":"${p}"`,
        (f: string, p: string) => `{"${f}":"${p}",}`,
        (f: string, p: string) => `{"email":"x@example.com","${f}":"${p}" x}`,
        (f: string, p: string) => `{"${f}":"${p}"}}`,
        (_f: string, p: string) => p,
        (f: string, p: string) => `{'${f}':'${p}'}`,
        (f: string, p: string) => `${f}=${p}`,
      ),
      fc.constantFrom(...(e.secretFields.length > 0 ? e.secretFields : ['password'])),
    )
    .map(([password, template, field]): BodyCase => {
      const text = template(field, password);
      return { kind: 'malformedWithPassword', payload: text, contentType: 'application/json', strings: [password] };
    });

const bodyFor = (e: Endpoint): fc.Arbitrary<BodyCase> =>
  fc.oneof(
    { arbitrary: arbitraryJson, weight: 2 },
    { arbitrary: rightKeys(e), weight: 4 },
    { arbitrary: coreReaching(e), weight: 5 },
    { arbitrary: hostileStrings(e), weight: 2 },
    { arbitrary: deep(e), weight: 1 },
    { arbitrary: pollution(e), weight: 2 },
    { arbitrary: rawBytes, weight: 1 },
    { arbitrary: rawText, weight: 1 },
    { arbitrary: malformedWithPassword(e), weight: 1 },
  );

/**
 * The passwords of a case that must never come back: the submitted secret fields, the password in
 * malformed JSON, and the account's current password, unless the same text was also submitted in
 * a field that is echoed on purpose (a display name, an email).
 */
function secretsOf(e: Endpoint, c: BodyCase): string[] {
  const secrets: string[] = [];
  if (c.kind === 'malformedWithPassword') secrets.push(...c.strings.map(substitute));
  const body = parsedBody(c);
  if (body) for (const f of e.secretFields) if (typeof body[f] === 'string') secrets.push(body[f] as string);
  // Submitted text other than the secret fields' values (one occurrence of each removed).
  const others = c.kind === 'malformedWithPassword' ? [] : submittedStrings(c);
  for (const s of secrets) {
    const i = others.indexOf(s);
    if (i >= 0) others.splice(i, 1);
  }
  others.push(session.email);
  return [...new Set([...secrets, session.password])].filter((s) => isDistinctive(s, others));
}

async function send(e: Endpoint, c: BodyCase): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers['content-type'] = c.contentType;
  if (e.auth) Object.assign(headers, bearer(session.accessToken));
  const payload = typeof c.payload === 'string' ? substitute(c.payload) : c.payload;
  return t.app.inject({ method: e.method, url: e.url, headers, ...(payload !== undefined && { payload }) });
}

/** What the body said, parsed as the server would (last duplicate wins); null when not a JSON object. */
function parsedBody(c: BodyCase): Record<string, unknown> | null {
  if (typeof c.payload !== 'string') return null;
  try {
    const v = JSON.parse(substitute(c.payload)) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** After the case: the session is still valid, or was ended by a logout that succeeded (then renewed). */
async function afterCase(e: Endpoint, c: BodyCase, res: LightMyRequestResponse, what: string): Promise<void> {
  if (e.url === '/auth/password' && res.statusCode === 204) {
    const body = parsedBody(c);
    assert.ok(body && typeof body.newPassword === 'string', `${what}: 204 without a string newPassword`);
    session.password = body.newPassword as string;
  }
  if (e.url === '/auth/logout' && res.statusCode === 204) {
    const scope = c.payload === undefined || (typeof c.payload === 'string' && c.payload.length === 0) ? 'local' : (parsedBody(c)?.scope ?? 'local');
    const me = await session.me();
    if (scope === 'others') {
      assert.equal(me.statusCode, 200, `${what}: logout "others" ended the caller's own session`);
    } else {
      assert.equal(me.statusCode, 401, `${what}: logout (${String(scope)}) answered 204 but the session still works`);
      await session.renew();
    }
    return;
  }
  await session.assertValid(what);
}

const numRunsPerEndpoint = 300;

describe('every body endpoint, any body', () => {
  for (const e of endpoints) {
    const name = `${e.method} ${e.url}`;
    test(`${name}: never 5xx, 4xx always problem+json, no internals or password echoed, session intact`, async (tc) => {
      await fc.assert(
        fc.asyncProperty(bodyFor(e), async (c) => {
          counter.hit(name);
          const what = `${name} [${c.kind}] content-type=${JSON.stringify(c.contentType)} body=${JSON.stringify(typeof c.payload === 'string' ? c.payload.slice(0, 300) : c.payload?.toString('hex').slice(0, 300))}`;
          const res = await send(e, c);
          counter.saw(name, res);
          checkResponse(res, { what, secrets: secretsOf(e, c), reflected: submittedStrings(c) });
          assertPrototypeClean(snapshot, what);
          await afterCase(e, c, res, what);
        }),
        runs(numRunsPerEndpoint),
      );
      tc.diagnostic(`${name}: ${counter.report(name)}`);
    });
  }
});

test('the session used by the protected endpoints is valid at the end', async (tc) => {
  await session.assertValid('after every body property');
  tc.diagnostic(`bodies.fuzz: ${counter.total} cases in total (${counter.summary()}); session renewed ${session.renewals} times after fuzzed logouts`);
});
