/**
 * Property-based forgery attempts:
 * - random claim sets signed with keys that are not ours (ES256, EdDSA, RS256, HS256 — including
 *   HMAC keyed with our own public key, the classic algorithm confusion — and `alg: none`): never
 *   accepted;
 * - tokens signed with OUR private key but with any of iss/aud/exp/typ/alg (or kid, nbf, iat,
 *   sub/sid/jti, extra header members) wrong: never accepted, and `token_expired` only when the
 *   expiry is the only thing wrong;
 * - random refresh-token strings, forged ones naming our session, and mutations of a real (current
 *   or spent) refresh token: always 401 invalid_refresh_token, and the real session survives.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { goodPassword, issuer, testApp, uniqueEmail, type TestApp, type TokenBody } from '../helpers.ts';
import { CaseCounter, anyUnicode, applyAll, b64urlChars, charMutation, checkRefused, checkResponse, named, namesOf, runs, type Mutation } from './fuzz-helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

let t: TestApp;
let s: TokenBody;
let ours: KeyObject;
let kid: string;
let realClaims: Record<string, unknown>;
const audience = 'tokenstile';
/** The configured leeway (TOKENSTILE_CLOCK_TOLERANCE default 5s). */
let tolerance: number;
const counter = new CaseCounter();

/** Keys that are not ours, and secrets an attacker could try for HS256. */
const foreign: Record<'ES256' | 'EdDSA' | 'RS256' | 'ES256-our-kid', KeyObject> = {} as never;
const hmacSecrets: Record<string, Buffer> = {};

before(async () => {
  t = await testApp();
  s = await t.signUp(uniqueEmail(), goodPassword);
  const keys = await internals(t.app.tokenstile).stores.keys.listSigningKeys();
  const stored = keys.find((k) => k.alg === 'ES256' && k.retiredAt === null);
  assert.ok(stored, 'the app made an ES256 signing key');
  ours = createPrivateKey({ key: stored.privateJwk, format: 'jwk' });
  kid = stored.kid;
  tolerance = t.app.tokenstile.config.clockToleranceMs / 1000;
  const [, payload] = s.accessToken.split('.');
  realClaims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
  foreign.ES256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  foreign['ES256-our-kid'] = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  foreign.EdDSA = generateKeyPairSync('ed25519').privateKey;
  foreign.RS256 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  // Algorithm confusion: an HMAC keyed with what a verifier might hold as "the key".
  const pub = createPublicKey({ key: stored.publicJwk, format: 'jwk' });
  hmacSecrets.random = randomBytes(32);
  hmacSecrets['our public key (PEM)'] = Buffer.from(pub.export({ type: 'spki', format: 'pem' }) as string);
  hmacSecrets['our public key (DER)'] = pub.export({ type: 'spki', format: 'der' });
  hmacSecrets['our public JWK'] = Buffer.from(JSON.stringify(stored.publicJwk));
  hmacSecrets['our JWKS'] = Buffer.from(JSON.stringify(t.app.tokenstile.jwks()));
  hmacSecrets['our kid'] = Buffer.from(kid);
  hmacSecrets.empty = Buffer.alloc(0);
});
after(() => t.close());

const me = (token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowSeconds = () => t.clock.now() / 1000;

type Signer = 'ES256' | 'EdDSA' | 'RS256' | 'ES256-our-kid' | `HS256:${string}` | 'none' | 'ours';

const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/**
 * The P-256 signature with s in the lower half of the group order: the server refuses the high-s
 * twin, so every ES256 signature made here is normalised, and a refusal is never for that reason.
 */
function lowS(signature: Buffer): Buffer {
  const sValue = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  if (sValue <= p256Order >> 1n) return signature;
  return Buffer.concat([signature.subarray(0, 32), Buffer.from((p256Order - sValue).toString(16).padStart(64, '0'), 'hex')]);
}

/** A compact JWS over `header` and `claims` (JSON text given as is when a string). */
function jws(header: unknown, claims: unknown, signer: Signer): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  if (signer === 'none') signature = Buffer.alloc(0);
  else if (signer === 'ours') signature = lowS(sign('sha256', data, { key: ours, dsaEncoding: 'ieee-p1363' }));
  else if (signer === 'ES256' || signer === 'ES256-our-kid') signature = lowS(sign('sha256', data, { key: foreign[signer], dsaEncoding: 'ieee-p1363' }));
  else if (signer === 'EdDSA') signature = sign(null, data, foreign.EdDSA);
  else if (signer === 'RS256') signature = sign('sha256', data, foreign.RS256);
  else signature = createHmac('sha256', hmacSecrets[signer.slice('HS256:'.length)]!).update(data).digest();
  return `${input}.${signature.toString('base64url')}`;
}

/** A JSON object with these entries, `undefined` meaning "left out". */
function objectOf(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
}

// ---------------------------------------------------------------------------------------------
// Tokens signed with a key that is not ours

const LEAVE_OUT = undefined;
/** A claim: the real value, a plausible one, anything, or left out. */
const claim = (real: () => unknown, plausible: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { arbitrary: fc.constant('\u0000REAL\u0000' as unknown), weight: 4 },
    { arbitrary: plausible, weight: 2 },
    { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
    { arbitrary: fc.constant(LEAVE_OUT), weight: 1 },
  ).map((v) => (v === '\u0000REAL\u0000' ? { real } : v));

const time = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((d) => ({ relative: d })),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1e308, 0.5),
);

const forgedClaims = fc.record({
  iss: claim(() => issuer, fc.constantFrom(issuer, `${issuer}/`, 'https://evil.example', '')),
  aud: claim(() => audience, fc.constantFrom(audience, [audience], [audience, 'other'], 'other')),
  sub: claim(() => s.user.id, fc.uuid()),
  sid: claim(() => s.session.id, fc.uuid()),
  jti: claim(() => 'forged', fc.string({ minLength: 1, maxLength: 30 })),
  iat: claim(() => ({ relative: 0 }), time),
  exp: claim(() => ({ relative: 900 }), time),
  nbf: fc.option(time, { nil: LEAVE_OUT }),
  extra: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), { nil: LEAVE_OUT }),
});

const forgedHeader = fc.record({
  alg: fc.oneof(fc.constant('\u0000SIGNER\u0000'), fc.constantFrom('ES256', 'EdDSA', 'RS256', 'HS256', 'none', 'None', 'NONE', 'ES384', ''), fc.jsonValue({ maxDepth: 1 }), fc.constant(LEAVE_OUT)),
  kid: fc.oneof(fc.constant('\u0000OURS\u0000'), fc.string({ maxLength: 50 }), fc.jsonValue({ maxDepth: 1 }), fc.constant(LEAVE_OUT)),
  typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt', 'AT+JWT'), fc.jsonValue({ maxDepth: 1 }), fc.constant(LEAVE_OUT)),
  embedded: fc.option(fc.constantFrom('jwk', 'jku', 'x5u', 'x5c', 'crit', 'b64'), { nil: LEAVE_OUT }),
});

const signers: Signer[] = ['ES256', 'ES256-our-kid', 'EdDSA', 'RS256', 'none', 'HS256:random', 'HS256:our public key (PEM)', 'HS256:our public key (DER)', 'HS256:our public JWK', 'HS256:our JWKS', 'HS256:our kid', 'HS256:empty'];

function resolveTime(v: unknown): unknown {
  return v !== null && typeof v === 'object' && 'relative' in v ? Math.floor(nowSeconds()) + (v as { relative: number }).relative : v;
}
function resolveClaim(v: unknown): unknown {
  return v !== null && typeof v === 'object' && 'real' in v && typeof (v as { real: unknown }).real === 'function' ? resolveTime((v as { real: () => unknown }).real()) : resolveTime(v);
}

describe('tokens signed with a key that is not ours', () => {
  test('random claims, any header, foreign ES256/EdDSA/RS256/HS256 keys or alg none: never accepted', async (tc) => {
    const name = 'foreign key';
    await fc.assert(
      fc.asyncProperty(forgedClaims, forgedHeader, fc.constantFrom(...signers), fc.boolean(), async (c, h, signer, exactRealClaims) => {
        counter.hit(name);
        const claims = exactRealClaims
          ? { ...realClaims, jti: `forged-${counter.of(name)}` }
          : objectOf({ ...(c.extra ?? {}), iss: resolveClaim(c.iss), aud: resolveClaim(c.aud), sub: resolveClaim(c.sub), sid: resolveClaim(c.sid), jti: resolveClaim(c.jti), iat: resolveClaim(c.iat), exp: resolveClaim(c.exp), nbf: resolveTime(c.nbf) });
        const algOfSigner = signer === 'ours' ? 'ES256' : signer.startsWith('HS256') ? 'HS256' : signer === 'ES256-our-kid' ? 'ES256' : signer;
        const header = objectOf({
          alg: h.alg === '\u0000SIGNER\u0000' ? algOfSigner : h.alg,
          // The foreign P-256 key always claims our kid: the key id must not pick the key.
          kid: signer === 'ES256-our-kid' || h.kid === '\u0000OURS\u0000' ? kid : h.kid,
          typ: h.typ,
          ...(h.embedded === 'jwk' && signer === 'ES256' ? { jwk: createPublicKey(foreign.ES256).export({ format: 'jwk' }) } : {}),
          ...(h.embedded !== undefined && h.embedded !== 'jwk' ? { [h.embedded]: h.embedded === 'crit' ? ['exp'] : 'https://evil.example/jwks.json' } : {}),
        });
        const token = jws(header, claims, signer);
        const what = `${name} [${signer}] header=${JSON.stringify(header)} claims=${JSON.stringify(claims)}`;
        const res = await me(token);
        counter.saw(name, res);
        assert.notEqual(res.statusCode, 200, `${what}: ACCEPTED a token signed with a key that is not ours`);
        checkRefused(res, ['invalid_token'], what);
      }),
      runs(450),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Tokens signed with our key, something wrong

/** One thing wrong with a token: `field` says what (a later defect of the same field overrides it). */
type Defect = { readonly field: string; readonly label: string; readonly apply: (h: Record<string, unknown>, c: Record<string, unknown>) => void; readonly onlyExpiry: boolean };

function defect(label: string, apply: Defect['apply'], onlyExpiry = false): Defect {
  const field = label.split('=')[0]!;
  return { field, label, apply, onlyExpiry, [fc.toStringMethod]: () => label } as Defect;
}

/** `token_expired` when, after later defects override earlier ones, the only thing wrong is a past `exp`. */
function expectedCode(ds: readonly Defect[]): 'token_expired' | 'invalid_token' {
  if (ds.some((d) => d.field === 'payload')) return 'invalid_token';
  const last = new Map(ds.map((d) => [d.field, d]));
  return [...last.values()].every((d) => d.onlyExpiry) ? 'token_expired' : 'invalid_token';
}

const notTheAudience = (v: unknown) => v !== audience && !(Array.isArray(v) && v.includes(audience));
const notAnAccessType = (v: unknown) => typeof v !== 'string' || !['at+jwt', 'application/at+jwt'].includes(v.toLowerCase());

const defects: fc.Arbitrary<Defect> = fc.oneof(
  // iss
  fc.oneof(fc.constantFrom<unknown>(`${issuer}/`, issuer.toUpperCase(), issuer.replace('http:', 'https:'), ` ${issuer}`, 'http://127.0.0.1:3001', 'http://localhost:3000', '', null, [issuer]), fc.jsonValue({ maxDepth: 1 }).filter((v) => v !== issuer), fc.constant(LEAVE_OUT))
    .map((v) => defect(`iss=${JSON.stringify(v)}`, (_h, c) => void (v === undefined ? delete c.iss : (c.iss = v)))),
  // aud
  fc.oneof(fc.constantFrom<unknown>('Tokenstile', 'tokenstile ', 'TOKENSTILE', 'other', '', [], ['other'], [['tokenstile']], { aud: audience }, null), fc.jsonValue({ maxDepth: 1 }).filter(notTheAudience), fc.constant(LEAVE_OUT))
    .map((v) => defect(`aud=${JSON.stringify(v)}`, (_h, c) => void (v === undefined ? delete c.aud : (c.aud = v)))),
  // exp: in the past (the only defect that makes it token_expired) …
  fc.integer({ min: 0, max: 10_000_000 }).map((k) => defect(`exp=now-tolerance-${k}`, (_h, c) => void (c.exp = Math.floor(nowSeconds()) - tolerance - k), true)),
  // … or not a NumericDate at all
  fc.oneof(fc.constantFrom<unknown>('9999999999', null, true, [9999999999], { exp: 1 }, -1, -1e-9), fc.constant(LEAVE_OUT))
    .map((v) => defect(`exp=${JSON.stringify(v)}`, (_h, c) => void (v === undefined ? delete c.exp : (c.exp = v)))),
  // typ
  fc.oneof(fc.constantFrom<unknown>('JWT', 'jwt', 'at+jwt ', ' at+jwt', 'at+JWT2', 'application/jwt', 'at+jws', 'rt+jwt', '', null, ['at+jwt']), fc.jsonValue({ maxDepth: 1 }).filter(notAnAccessType), fc.constant(LEAVE_OUT))
    .map((v) => defect(`typ=${JSON.stringify(v)}`, (h) => void (v === undefined ? delete h.typ : (h.typ = v)))),
  // alg (the signature stays ES256 with our key)
  fc.oneof(fc.constantFrom<unknown>('none', 'None', 'HS256', 'RS256', 'EdDSA', 'ES384', 'ES512', 'PS256', 'es256', 'ES256 ', '', null, ['ES256']), fc.jsonValue({ maxDepth: 1 }).filter((v) => v !== 'ES256'), fc.constant(LEAVE_OUT))
    .map((v) => defect(`alg=${JSON.stringify(v)}`, (h) => void (v === undefined ? delete h.alg : (h.alg = v)))),
  // kid
  fc.oneof(fc.constantFrom<unknown>('x', '', null, 0, ['\u0000KID\u0000'], '\u0000KID\u0000x', '\u0000KID\u0000 ', 'LOWER'), fc.string({ maxLength: 50 }), fc.constant(LEAVE_OUT))
    .map((v) => defect(`kid=${JSON.stringify(v)}`, (h) => {
      if (v === undefined) delete h.kid;
      else if (v === 'LOWER') h.kid = kid.toLowerCase() === kid ? `${kid}X` : kid.toLowerCase();
      else h.kid = typeof v === 'string' ? (v.replace('\u0000KID\u0000', kid) === kid ? `${kid}?` : v.replace('\u0000KID\u0000', kid)) : Array.isArray(v) ? [kid] : v;
    })),
  // header members that are refused rather than ignored
  fc.constantFrom('jku', 'x5u', 'jwk', 'x5c', 'crit', 'cty', 'b64', 'zip', 'x5t', '__proto__')
    .map((m) => defect(`header.${m}`, (h) => void Object.defineProperty(h, m, { value: m === 'b64' ? false : m === 'crit' ? ['exp'] : 'https://evil.example/k', enumerable: true, configurable: true, writable: true }))),
  // not yet valid
  fc.integer({ min: 1, max: 10_000_000 }).map((k) => defect(`nbf=now+tolerance+${k}`, (_h, c) => void (c.nbf = Math.ceil(nowSeconds()) + tolerance + k))),
  fc.integer({ min: 1, max: 10_000_000 }).map((k) => defect(`iat=now+tolerance+${k}`, (_h, c) => void (c.iat = Math.ceil(nowSeconds()) + tolerance + k))),
  fc.constantFrom<unknown>('soon', null, -5, LEAVE_OUT).map((v) => defect(`iat=${JSON.stringify(v)}`, (_h, c) => void (v === undefined ? delete c.iat : (c.iat = v)))),
  fc.constantFrom<unknown>('soon', null, -5).map((v) => defect(`nbf=${JSON.stringify(v)}`, (_h, c) => void (c.nbf = v))),
  // identity claims of the wrong shape
  fc.tuple(fc.constantFrom('sub', 'sid', 'jti'), fc.constantFrom<unknown>('', 0, null, true, ['x'], { id: 1 }, 'x'.repeat(257), LEAVE_OUT))
    .map(([f, v]) => defect(`${f}=${JSON.stringify(v)?.slice(0, 20)}`, (_h, c) => void (v === undefined ? delete c[f] : (c[f] = v)))),
  // payload that is not a claims object
  fc.constantFrom<unknown>([], 'claims', 42, null).map((v) => defect(`payload=${JSON.stringify(v)}`, (_h, c) => {
    for (const k of Object.keys(c)) delete c[k];
    (c as { __replace?: unknown }).__replace = v;
  })),
);

describe('tokens signed with OUR key but wrong', () => {
  test('control: a well-formed token signed here with our key is accepted (so each refusal below is meaningful)', async (tc) => {
    const name = 'our key, all correct';
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT'),
        fc.constantFrom<unknown>(audience, [audience], ['other', audience]),
        fc.integer({ min: -tolerance + 1, max: 86_400 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        async (typ, aud, expIn, jti) => {
          counter.hit(name);
          const now = Math.floor(nowSeconds());
          const token = jws({ alg: 'ES256', kid, typ }, { ...realClaims, aud, jti, iat: now, exp: now + expIn + 1 }, 'ours');
          const res = await me(token);
          counter.saw(name, res);
          checkResponse(res, { what: name });
          assert.equal(res.statusCode, 200, `${name}: typ=${typ} aud=${JSON.stringify(aud)} exp=now+${expIn + 1}: ${res.body}`);
        },
      ),
      runs(60),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });

  test('any of iss/aud/exp/typ/alg/kid/nbf/iat/sub/sid/jti wrong, or a refused header member: never accepted', async (tc) => {
    const name = 'our key, something wrong';
    await fc.assert(
      fc.asyncProperty(fc.array(defects, { minLength: 1, maxLength: 3 }), fc.string({ minLength: 1, maxLength: 20 }), async (ds, jti) => {
        counter.hit(name);
        const header: Record<string, unknown> = { alg: 'ES256', kid, typ: 'at+jwt' };
        const claims: Record<string, unknown> = { ...realClaims, jti, iat: Math.floor(nowSeconds()), exp: Math.floor(nowSeconds()) + 900 };
        for (const d of ds) d.apply(header, claims);
        const payload = '__replace' in claims ? claims.__replace : claims;
        const token = jws(header, payload, 'ours');
        const what = `${name} [${ds.map((d) => d.label).join(', ')}]`;
        const res = await me(token);
        counter.saw(name, res);
        assert.notEqual(res.statusCode, 200, `${what}: ACCEPTED (header ${JSON.stringify(header)}, claims ${JSON.stringify(payload)})`);
        // Expired is told apart only for a token that is otherwise entirely ours and valid.
        checkRefused(res, [expectedCode(ds)], what);
      }),
      runs(600),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Refresh tokens

let spent: string;
let current: TokenBody;

const refresh = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });

/** The refresh token's bytes after the `tsr_` prefix. */
const rawOf = (token: string) => Buffer.from(token.slice(4), 'base64url');
const tsr = (raw: Buffer) => `tsr_${raw.toString('base64url')}`;

/** Changes to the decoded token that keep the MAC tag as it was. */
const byteMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((v) => named(`version byte=${v}`, (tok) => { const r = rawOf(tok); r[0] = v; return tsr(r); })),
  fc.nat().map((g) => named(`generation=${g}`, (tok) => { const r = rawOf(tok); if (r.length >= 21) r.writeUInt32BE(g % 2 ** 32, 17); return tsr(r); })),
  fc.constantFrom(-1, 1, 2, 1000).map((d) => named(`generation${d >= 0 ? '+' : ''}${d}`, (tok) => { const r = rawOf(tok); if (r.length >= 21) r.writeUInt32BE((r.readUInt32BE(17) + d + 2 ** 32) % 2 ** 32, 17); return tsr(r); })),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([i, x]) => named(`xor byte ${i}^${x}`, (tok) => { const r = rawOf(tok); if (r.length > 0) r[i % r.length] = (r[i % r.length] ?? 0) ^ x; return tsr(r); })),
  fc.uuid().map((u) => named(`session id=${u}`, (tok) => { const r = rawOf(tok); if (r.length >= 17) Buffer.from(u.replaceAll('-', ''), 'hex').copy(r, 1); return tsr(r); })),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((tag) => named('random tag', (tok) => { const r = rawOf(tok); if (r.length >= 69) Buffer.from(tag).copy(r, 53); return tsr(r); })),
);

const refreshMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: charMutation(fc.oneof(fc.constantFrom(...b64urlChars), fc.constantFrom('=', '+', '/', '.', ' ', '%', '\u0000', '\u00a0'), fc.string({ minLength: 1, maxLength: 1 }))), weight: 4 },
  { arbitrary: byteMutation, weight: 3 },
  {
    arbitrary: fc.constantFrom(
      named('pad =', (tok) => `${tok}=`),
      named('pad ==', (tok) => `${tok}==`),
      named('standard base64', (tok) => tok.replaceAll('-', '+').replaceAll('_', '/')),
      named('standard base64, padded', (tok) => `tsr_${rawOf(tok).toString('base64')}`),
      named('upper-case', (tok) => tok.toUpperCase()),
      named('lower-case', (tok) => tok.toLowerCase()),
      named('prefix TSR_', (tok) => `TSR_${tok.slice(4)}`),
      named('prefix tsr-', (tok) => `tsr-${tok.slice(4)}`),
      named('no prefix', (tok) => tok.slice(4)),
      named('double prefix', (tok) => `tsr_${tok}`),
      named('drop last char', (tok) => tok.slice(0, -1)),
      named('truncate to half', (tok) => tok.slice(0, tok.length >> 1)),
      named('append A', (tok) => `${tok}A`),
      named('twice', (tok) => tok + tok),
      named('leading space', (tok) => ` ${tok}`),
      named('trailing space', (tok) => `${tok} `),
      named('trailing NBSP', (tok) => `${tok}\u00a0`),
      named('trailing newline', (tok) => `${tok}\n`),
      named('non-canonical last char', (tok) => { const i = b64urlChars.indexOf(tok.at(-1) ?? 'A'); return tok.slice(0, -1) + b64urlChars[i ^ 0b11]; }),
      named('version 2, same body', (tok) => { const r = rawOf(tok); r[0] = 2; return tsr(r); }),
    ),
    weight: 2,
  },
);

describe('refresh tokens', () => {
  before(async () => {
    // A session of its own, rotated once: `spent` is generation 0 (a replay of it would be theft),
    // `current` generation 1.
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.user.email, password: goodPassword } });
    assert.equal(login.statusCode, 200, login.body);
    spent = (login.json() as TokenBody).refreshToken;
    const rotated = await refresh(spent);
    assert.equal(rotated.statusCode, 200, rotated.body);
    current = rotated.json() as TokenBody;
  });

  async function expectUnknownRefresh(name: string, presented: string, what: string): Promise<void> {
    const res = await refresh(presented);
    counter.saw(name, res);
    checkResponse(res, { what, secrets: [current.refreshToken, spent] });
    assert.equal(res.statusCode, 401, `${what}: expected 401 invalid_refresh_token, got ${res.statusCode}: ${res.body}`);
    assert.equal(res.json().code, 'invalid_refresh_token', `${what}: ${res.body}`);
    const mine = await me(current.accessToken);
    assert.equal(mine.statusCode, 200, `${what}: the real session was ended by a token that is not its own: ${mine.body}`);
  }

  test('random strings (and forged tokens naming our session): always 401 invalid_refresh_token; the session lives', async (tc) => {
    const name = 'random refresh tokens';
    const forgedNamingUs = fc
      .tuple(fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 255 })), fc.oneof(fc.constantFrom(0, 1, 2), fc.nat()), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
      .map(([version, generation, secret, tag]) => {
        const body = Buffer.alloc(53);
        body[0] = version;
        Buffer.from(current.session.id.replaceAll('-', ''), 'hex').copy(body, 1);
        body.writeUInt32BE(generation % 2 ** 32, 17);
        Buffer.from(secret).copy(body, 21);
        return tsr(Buffer.concat([body, Buffer.from(tag)]));
      });
    const presented = fc.oneof(
      { arbitrary: fc.string({ maxLength: 200 }), weight: 2 },
      { arbitrary: anyUnicode(1024), weight: 1 },
      { arbitrary: fc.string({ unit: fc.constantFrom(...b64urlChars), minLength: 92, maxLength: 92 }).map((b) => `tsr_${b}`), weight: 2 },
      { arbitrary: fc.string({ unit: fc.constantFrom(...b64urlChars), maxLength: 200 }).map((b) => `tsr_${b}`), weight: 1 },
      { arbitrary: forgedNamingUs, weight: 4 },
      { arbitrary: fc.constantFrom('', 'tsr_', 'null', 'undefined', '[object Object]', 'x'.repeat(1024)), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(presented, async (p) => {
        counter.hit(name);
        await expectUnknownRefresh(name, p, `${name}: ${JSON.stringify(p).slice(0, 200)}`);
      }),
      runs(350),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });

  test('mutations of a real refresh token, current or spent: always 401 invalid_refresh_token, never a revocation', async (tc) => {
    const name = 'mutated refresh tokens';
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('current', 'spent'), fc.array(refreshMutation, { minLength: 1, maxLength: 3 }), async (which, mutations) => {
        counter.hit(name);
        const real = which === 'current' ? current.refreshToken : spent;
        const mutated = applyAll(mutations, real);
        // A chain of changes that cancels out is the real token: not a mutation (and would rotate it).
        if (mutated === current.refreshToken || mutated === spent) return counter.note(name, 'skipped: mutations cancelled out');
        await expectUnknownRefresh(name, mutated, `${name}: ${which} [${namesOf(mutations)}] → ${JSON.stringify(mutated)}`);
      }),
      runs(450),
    );
    tc.diagnostic(`${name}: ${counter.report(name)}`);
  });

  test('afterwards the real refresh token still rotates and the spent one is still recognised as spent', async (tc) => {
    const rotated = await refresh(current.refreshToken);
    assert.equal(rotated.statusCode, 200, `the real current refresh token no longer works: ${rotated.body}`);
    const next = rotated.json() as TokenBody;
    assert.equal(next.session.id, current.session.id);
    assert.equal((await me(next.accessToken)).statusCode, 200);
    // The genuine spent token is still a replay (so the mutated ones above were refused for being
    // forged, not because nothing could revoke): it ends the session, as theft detection should.
    const replay = await refresh(spent);
    assert.equal(replay.statusCode, 401, replay.body);
    assert.equal(replay.json().code, 'refresh_token_reused', replay.body);
    assert.equal((await me(next.accessToken)).json().code, 'session_revoked');
    tc.diagnostic(`tokens.fuzz: ${counter.total} cases in total (${counter.summary()})`);
  });
});
