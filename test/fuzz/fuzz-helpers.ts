/**
 * Shared pieces of the property-based fuzz suites (test/fuzz/*.test.ts): the response checks every
 * property applies, a session that the properties keep alive, and common arbitraries.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, problemOf, type TestServer, type TokenBody } from '../helpers.ts';

/**
 * Every property runs with this seed, so a failure reproduces exactly. To explore further by hand,
 * `TOKENSTILE_FUZZ_SEED=n` picks another seed and `TOKENSTILE_FUZZ_SCALE=k` runs k times the cases
 * (a failure prints its seed and path, which replay it).
 */
export const seed = Number(process.env.TOKENSTILE_FUZZ_SEED ?? 42);
const scale = Number(process.env.TOKENSTILE_FUZZ_SCALE ?? 1);

/** `fc.assert` options: the fixed seed and `numRuns` (the shrunk counterexample is printed on failure). */
export function runs(numRuns: number): fc.Parameters<unknown> {
  return { seed, numRuns: Math.max(1, Math.round(numRuns * scale)) };
}

/** Counts predicate executions per property and per file (shrinking included). */
export class CaseCounter {
  total = 0;
  readonly #perProperty = new Map<string, number>();
  readonly #outcomes = new Map<string, Map<string, number>>();
  hit(property: string): void {
    this.total += 1;
    this.#perProperty.set(property, (this.#perProperty.get(property) ?? 0) + 1);
  }
  /** Records an answer's status (and problem code), to show what the cases reached. */
  saw(property: string, res: LightMyRequestResponse): void {
    let code = '';
    if (res.statusCode >= 400) {
      try {
        code = ` ${(JSON.parse(res.body) as { code?: string }).code}`;
      } catch {
        code = ' ?';
      }
    }
    this.note(property, `${res.statusCode}${code}`);
  }
  /** Records an outcome that is not an answer (a case skipped, say). */
  note(property: string, key: string): void {
    const seen = this.#outcomes.get(property) ?? new Map<string, number>();
    seen.set(key, (seen.get(key) ?? 0) + 1);
    this.#outcomes.set(property, seen);
  }
  /** `"n cases; 200×3, 400 invalid_request×12"` for a property. */
  report(property: string): string {
    const seen = [...(this.#outcomes.get(property) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1]);
    return `${this.of(property)} cases; ${seen.map(([k, n]) => `${k}×${n}`).join(', ')}`;
  }
  of(property: string): number {
    return this.#perProperty.get(property) ?? 0;
  }
  summary(): string {
    return [...this.#perProperty].map(([name, n]) => `${name}: ${n}`).join('; ');
  }
}

export interface ResponseExpectations {
  /** Strings that must never appear in the answer (passwords, a spent token…). */
  readonly secrets?: readonly string[];
  /** Input the answer may legitimately echo (a display name, a 404's path): ignored by the leak scan. */
  readonly reflected?: readonly string[];
  /** Printed with a failure. */
  readonly what?: string;
}

// A stack frame, a source location, or an `Error:` prefix: internals that must never reach a client.
const internals: Array<[string, RegExp]> = [
  ['a stack frame ("    at ")', / {4}at /],
  ['a stack frame ("at fn (…)")', /\bat [^\s()]+ \([^)]*:\d+:\d+\)/],
  ['a source location', /\.(?:ts|js|mjs|cjs):\d+:\d+/],
  ['an "Error:" prefix', /\b[A-Za-z]*Error: /],
  ['node internals', /node:internal|node_modules\//],
  ['a "stack" member', /"stack"\s*:/],
];

/** Every string in a JSON value, keys included (iterative: test values nest thousands deep). */
export function stringLeaves(value: unknown, out: string[]): string[] {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) (out.push(k), stack.push(x));
  }
  return out;
}

/** The forms in which an input string may come back: as sent, trimmed, lower-cased, NFKC, URL-decoded. */
export function variantsOf(s: string): string[] {
  const forms = new Set([s, s.trim(), s.toLowerCase(), s.trim().toLowerCase(), s.normalize('NFKC')]);
  try {
    forms.add(decodeURIComponent(s));
  } catch {
    // not URL-encoded text
  }
  try {
    forms.add(new URL(s, 'http://localhost').pathname);
  } catch {
    // not a URL
  }
  return [...forms].filter((f) => f.length > 0);
}

/** Leaf text minus every reflected input in it (longest first), for the leak scan. */
function withoutReflections(text: string, reflected: readonly string[]): string {
  const all = [...new Set(reflected.flatMap(variantsOf))].sort((a, b) => b.length - a.length);
  let t = text;
  for (const r of all) if (r.length > 0) t = t.split(r).join('\u0001');
  return t;
}

/** True when `secret` is specific enough that finding it in an answer means it was echoed. */
export function isDistinctive(secret: string, otherInputs: readonly string[] = []): boolean {
  if (secret.trim().length < 8 || new Set(secret).size < 3) return false;
  const s = secret.toLowerCase();
  return !otherInputs.some((o) => variantsOf(o).some((v) => v.toLowerCase().includes(s)));
}

/**
 * The properties every answer must have: no 5xx; every 4xx is RFC 9457 problem+json with the five
 * members and a matching status; no stack, source location or `Error:` internals; none of `secrets`.
 */
export function checkResponse(res: LightMyRequestResponse, expect: ResponseExpectations = {}): void {
  const what = expect.what ? `${expect.what}: ` : '';
  assert.ok(res.statusCode < 500, `${what}got ${res.statusCode}: ${res.body.slice(0, 2000)}`);
  let parsed: unknown = undefined;
  if (res.statusCode >= 400) {
    const body = problemOf(res);
    parsed = body;
    assert.equal(typeof body, 'object', `${what}problem body is not an object: ${res.body}`);
    for (const member of ['type', 'title', 'code', 'detail'] as const) {
      assert.equal(typeof body[member], 'string', `${what}problem member ${member} is not a string: ${res.body}`);
    }
    assert.ok(body.type.length > 0 && body.title.length > 0 && body.code.length > 0, `${what}empty problem member: ${res.body}`);
    assert.equal(body.status, res.statusCode, `${what}problem status ${body.status} != HTTP ${res.statusCode}`);
  } else {
    try {
      parsed = res.body.length > 0 ? JSON.parse(res.body) : '';
    } catch {
      parsed = res.body;
    }
  }
  const leaves = stringLeaves(parsed, []);
  for (const leaf of leaves) {
    const scanned = withoutReflections(leaf, expect.reflected ?? []);
    for (const [name, pattern] of internals) {
      assert.ok(!pattern.test(scanned), `${what}answer (${res.statusCode}) has ${name}: ${leaf.slice(0, 2000)}`);
    }
  }
  const everything = `${res.body}\n${JSON.stringify(res.headers)}`;
  for (const secret of expect.secrets ?? []) {
    const escaped = JSON.stringify(secret).slice(1, -1);
    assert.ok(!everything.includes(secret) && !everything.includes(escaped), `${what}answer (${res.statusCode}) echoes a submitted secret ${JSON.stringify(secret)}: ${res.body.slice(0, 2000)}`);
  }
}

/**
 * A 401 refusal of an access token: problem+json, the given code, and the RFC 6750 challenge (or,
 * for a token sent with the DPoP scheme, RFC 9449's DPoP challenge with its error).
 */
export function checkRefused(res: LightMyRequestResponse, codes: readonly string[], what = ''): void {
  checkResponse(res, { what });
  assert.equal(res.statusCode, 401, `${what}: expected 401, got ${res.statusCode}: ${res.body}`);
  const body = problemOf(res);
  assert.ok(codes.includes(body.code), `${what}: expected ${codes.join('|')}, got ${body.code}`);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  assert.ok(/^Bearer /.test(challenge) || /^DPoP error="invalid_token", /.test(challenge), `${what}: no Bearer (or DPoP) challenge: ${challenge}`);
}

/**
 * One signed-in user whose session the properties use and check. `renew()` logs in again after a
 * legitimate end of the session (a fuzzed logout that succeeded).
 */
export class LiveSession {
  readonly app: TestServer;
  readonly email: string;
  password: string;
  tokens: TokenBody;
  renewals = 0;

  constructor(app: TestServer, email: string, password: string, tokens: TokenBody) {
    this.app = app;
    this.email = email;
    this.password = password;
    this.tokens = tokens;
  }

  get accessToken(): string {
    return this.tokens.accessToken;
  }

  me(): Promise<LightMyRequestResponse> {
    return this.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(this.accessToken) });
  }

  /** Asserts that the session's access token is still accepted. */
  async assertValid(what: string): Promise<void> {
    const res = await this.me();
    assert.equal(res.statusCode, 200, `${what}: the session's access token is no longer accepted: ${res.statusCode} ${res.body}`);
    assert.equal(res.json().sessionId, this.tokens.session.id);
  }

  /** A new session for the same user (after a fuzzed request legitimately ended this one). */
  async renew(): Promise<void> {
    const res = await this.app.inject({ method: 'POST', url: '/auth/login', payload: { email: this.email, password: this.password } });
    assert.equal(res.statusCode, 200, `re-login failed: ${res.statusCode} ${res.body}`);
    this.tokens = res.json() as TokenBody;
    this.renewals += 1;
  }
}

/** Snapshot of Object.prototype, to prove no request polluted it. */
export function prototypeSnapshot(): string {
  return JSON.stringify(Object.getOwnPropertyNames(Object.prototype).sort());
}

export function assertPrototypeClean(snapshot: string, what: string): void {
  assert.equal(prototypeSnapshot(), snapshot, `${what}: Object.prototype gained members`);
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'admin', 'isAdmin', 'role']) assert.equal(probe[key], undefined, `${what}: Object.prototype.${key} is set`);
}

// ---------------------------------------------------------------------------------------------
// Token mutations

/** A named change to a token string (named, so that a counterexample prints readably). */
export interface Mutation {
  readonly name: string;
  readonly apply: (token: string) => string;
}

export function named(name: string, apply: (token: string) => string): Mutation {
  return { name, apply, [fc.toStringMethod]: () => name } as Mutation;
}

export const applyAll = (mutations: readonly Mutation[], token: string): string => mutations.reduce((s, m) => m.apply(s), token);
export const namesOf = (mutations: readonly Mutation[]): string => mutations.map((m) => m.name).join(', ');

export const b64urlChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Index `i` folded into 0…length (an insertion point). */
const at = (s: string, i: number) => i % (s.length + 1);
/** Index `i` folded into 0…length-1 (a character). */
const charAt = (s: string, i: number) => i % Math.max(1, s.length);

export function toggleCase(c: string): string {
  return c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
}

/** Flip, insert, delete or change the case of characters; `char` gives the new characters. */
export function charMutation(char: fc.Arbitrary<string>): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.tuple(fc.nat(), char).map(([i, c]) => named(`flip@${i}→${JSON.stringify(c)}`, (s) => { const j = charAt(s, i); return s.slice(0, j) + c + s.slice(j + 1); })),
    fc.tuple(fc.nat(), char).map(([i, c]) => named(`insert@${i} ${JSON.stringify(c)}`, (s) => { const j = at(s, i); return s.slice(0, j) + c + s.slice(j); })),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 4 })).map(([i, n]) => named(`delete@${i}×${n}`, (s) => { const j = charAt(s, i); return s.slice(0, j) + s.slice(j + n); })),
    fc.nat().map((i) => named(`case@${i}`, (s) => { const j = charAt(s, i); return s.slice(0, j) + toggleCase(s[j] ?? '') + s.slice(j + 1); })),
  );
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** A character Node's HTTP parser lets through in a header value: HTAB, SP…~, and obs-text. */
export const headerChar: fc.Arbitrary<string> = fc
  .oneof(fc.constant(9), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }))
  .map((c) => String.fromCharCode(c));

/** A header value as a client could send it (no CR, LF, NUL or other controls). */
export const headerValue = (maxLength = 200): fc.Arbitrary<string> => fc.string({ unit: headerChar, maxLength });

const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** An RFC 9110 token (a valid header name). */
export const headerName: fc.Arbitrary<string> = fc.string({ unit: fc.constantFrom(...tchars), minLength: 1, maxLength: 24 });

/** Any Unicode string, lone surrogates included. */
export const anyUnicode = (maxLength = 64): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength });

/** Strings made of C0/C1 control characters, DEL, and a few invisible or bidi code points. */
export const controlString = (maxLength = 32): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(
      fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('\u200b', '\u200e', '\u202e', '\u2028', '\u2029', '\ufeff', '\ufffd', '\ud800', '\udfff', 'a', ' '),
    ),
    maxLength,
  });

/** A long string: a short random unit repeated to `min`…`max` characters. */
export const hugeString = (min = 200, max = 20_000): fc.Arbitrary<string> =>
  fc
    .tuple(fc.string({ unit: fc.oneof(fc.constantFrom('a', 'é', '字', '😀', ' ', '"', '\\'), fc.string({ minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 5 }), fc.integer({ min, max }))
    .map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n));

/** A mix of the string arbitraries above. */
export const weirdString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: anyUnicode(40), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 2 },
  { arbitrary: controlString(), weight: 2 },
  { arbitrary: hugeString(), weight: 1 },
);

/** Deeply nested JSON text: arrays, objects, or a mix, `depth` levels. */
export const deepJsonText: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 16, max: 6000 }), fc.constantFrom('array', 'object', 'mixed'), fc.jsonValue({ maxDepth: 0 }))
  .map(([depth, kind, leaf]) => {
    const inner = JSON.stringify(leaf) ?? 'null';
    if (kind === 'array') return '['.repeat(depth) + inner + ']'.repeat(depth);
    if (kind === 'object') return '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
    let open = '';
    let close = '';
    for (let i = 0; i < depth; i++) {
      if (i % 2 === 0) (open += '[', close = ']' + close);
      else (open += '{"__proto__":', close = '}' + close);
    }
    return open + inner + close;
  });

/** Keys that have hurt JavaScript servers before. */
export const pollutionKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isAdmin', 'role'] as const;

/** A value meant to pollute a prototype if a server merged it naively. */
export const pollutionValue: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  { polluted: 'yes' },
  { admin: true },
  { prototype: { polluted: 'yes', isAdmin: true } },
  { __proto__: { polluted: 'yes' } },
  'polluted',
  null,
  [{ polluted: 1 }],
);

/** JSON text of an object with these entries, in order (duplicates and `__proto__` kept as own keys). */
export function objectText(entries: ReadonlyArray<readonly [string, unknown]>): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${valueText(v)}`).join(',')}}`;
}

/** JSON text of a value; `RawJson` is inserted as is (nested deep structures, `__proto__` objects). */
export function valueText(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    // Own enumerable keys only, so a literal `{ __proto__: … }` (a prototype) comes out as "__proto__".
    const entries: Array<[string, unknown]> = Object.entries(v);
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) entries.unshift(['__proto__', proto]);
    return objectText(entries);
  }
  if (Array.isArray(v)) return `[${v.map(valueText).join(',')}]`;
  return JSON.stringify(v) ?? 'null';
}

/** JSON text to splice into a body unchanged. */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}
