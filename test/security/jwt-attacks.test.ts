// Attacks on access tokens that test/http/forged-tokens.test.ts does not already try. Every forged
// token is signed correctly with our own key unless the attack is about the signature, so each
// refusal is caused by the one thing under attack. Expired tokens answer token_expired (contract).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { issuer, testApp, type TestApp, type TokenBody } from '../helpers.ts';
import { expectTokenRefused } from '../http/problem-assertions.ts';
import { internals } from '../../src/core/core-internals.ts';

const order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n; // P-256 n
let t: TestApp;
let s: TokenBody;
let other: TokenBody;
let ours: KeyObject;
let kid: string;
let publicJwk: JsonWebKey;
let audience: string;
let attacks = 0;
let controls = 0;

before(async () => {
  t = await testApp();
  s = await t.signUp();
  other = await t.signUp();
  const [stored] = await internals(t.app.tokenstile).stores.keys.listSigningKeys();
  assert.ok(stored, 'the app made a signing key');
  ours = createPrivateKey({ key: stored.privateJwk, format: 'jwk' });
  kid = stored.kid;
  publicJwk = stored.publicJwk;
  audience = t.app.tokenstile.config.audience;
});
after(() => t.close());

const enc = (text: string | Buffer) => Buffer.from(text).toString('base64url');
const seg = (v: unknown) => (typeof v === 'string' ? enc(v) : enc(JSON.stringify(v))); // a string is raw JSON text
const hex = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
const now = () => Math.floor(t.clock.now() / 1000);
const header = (extra: Record<string, unknown> = {}) => ({ alg: 'ES256', kid, typ: 'at+jwt', ...extra });
const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
const claims = (extra: Record<string, unknown> = {}) => ({ ...payloadOf(s.accessToken), ...extra });

/** ES256 over `input` with our key, low s (as src signs), P1363 unless `der`. */
function sig(input: string, der = false): Buffer {
  if (der) return sign('sha256', Buffer.from(input), { key: ours, dsaEncoding: 'der' });
  const raw = sign('sha256', Buffer.from(input), { key: ours, dsaEncoding: 'ieee-p1363' });
  const sv = BigInt(`0x${raw.subarray(32).toString('hex')}`);
  return sv > order >> 1n ? Buffer.concat([raw.subarray(0, 32), hex(order - sv)]) : raw;
}
const signed = (input: string) => `${input}.${enc(sig(input))}`;
const es256 = (h: unknown, c: unknown) => signed(`${seg(h)}.${seg(c)}`);
const mac = (bits: number, h: unknown, c: unknown, secret: string | Buffer) => {
  const input = `${seg(h)}.${seg(c)}`;
  return `${input}.${createHmac(`sha${bits}`, secret).update(input).digest('base64url')}`;
};

const me = (token: string) => t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });

/** One attack: must be a 401 problem with `code` (never a 5xx). */
async function refused(label: string, token: string, code: 'invalid_token' | 'token_expired' = 'invalid_token'): Promise<void> {
  attacks += 1;
  const res = await me(token);
  assert.ok(res.statusCode < 500, `${label}: ${res.statusCode} ${res.body}`);
  try {
    expectTokenRefused(res, code);
  } catch (err) {
    throw new Error(`${label}: ${(err as Error).message}`);
  }
}
/** A control: a token that differs from the attacks only in what the server must accept. */
async function accepted(label: string, token: string, userId = s.user.id): Promise<void> {
  controls += 1;
  const res = await me(token);
  assert.equal(res.statusCode, 200, `${label}: ${res.body}`);
  assert.equal(res.json().id, userId, label);
}

describe('alg none and other non-ES256 spellings', () => {
  test('a token we sign ourselves is accepted, so each refusal below is meaningful', async () => {
    await accepted('control', es256(header(), claims({ jti: 'control' })));
  });
  const covered = new Set(['none', 'None', 'NONE', 'nOnE']); // forged-tokens.test.ts tries these with "." and a junk signature
  const spellings: unknown[] = ['none', 'None', 'NONE', 'nOnE', 'NoNe', 'none ', ' none', '\tnone', 'none\u0000', '\u0000none', 'non\u0435', 'n\u200bone',
    '', null, false, 0, ['none'], { none: true }, 'ES256 ', ' ES256', 'ES256\u0000', 'ES-256', 'ECDSA', ['ES256'], { alg: 'ES256' }];
  for (const alg of spellings) {
    test(`alg ${JSON.stringify(alg)}: without, with an empty and with a valid signature`, async () => {
      for (const h of [header({ alg }), { alg, typ: 'at+jwt' }]) {
        const input = `${seg(h)}.${seg(claims())}`;
        await refused('two segments', input);
        if (!covered.has(alg as string)) await refused('empty signature', `${input}.`);
        if (!covered.has(alg as string)) await refused('junk signature', `${input}.${enc('signature')}`);
        await refused('our valid ES256 signature', signed(input));
      }
    });
  }
  test('alg missing altogether, over our valid signature', async () => {
    await refused('no alg', es256({ kid, typ: 'at+jwt' }, claims()));
    await refused('no alg, no kid', es256({ typ: 'at+jwt' }, claims()));
    await refused('empty header', es256({}, claims()));
  });
});

describe('key confusion: HMAC keyed with our public key in every encoding', () => {
  test('HS256, HS384, HS512 and an HMAC under the ES256 label are refused', async () => {
    const pub = createPublicKey({ key: publicJwk, format: 'jwk' });
    const pem = pub.export({ type: 'spki', format: 'pem' }) as string;
    const der = pub.export({ type: 'spki', format: 'der' });
    const x = Buffer.from(publicJwk.x ?? '', 'base64url');
    const y = Buffer.from(publicJwk.y ?? '', 'base64url');
    const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const served = jwks.keys.find((k: { kid: string }) => k.kid === kid);
    assert.ok(served, 'our key is published');
    const secrets: Array<[string, string | Buffer, boolean]> = [ // [what, secret, already tried by forged-tokens with HS256]
      ['JWK JSON', JSON.stringify(publicJwk), true], ['PEM SPKI', pem, true], ['x member', String(publicJwk.x), true], ['kid', kid, true],
      ['JWK JSON as served', JSON.stringify(served), false], ['JWKS JSON', JSON.stringify(jwks), false], ['PEM without newline', pem.trim(), false],
      ['PEM body only', pem.replace(/-----[^-]+-----|\s/g, ''), false], ['DER SPKI', der, false], ['raw x||y', Buffer.concat([x, y]), false],
      ['uncompressed 04||x||y', Buffer.concat([Buffer.from([4]), x, y]), false], ['compressed point', Buffer.concat([Buffer.from([2 + (y[31]! & 1)]), x]), false],
      ['x bytes', x, false], ['y member', String(publicJwk.y), false], ['y bytes', y, false], ['empty secret', '', false],
    ];
    for (const [what, secret, covered] of secrets) {
      for (const bits of [256, 384, 512]) {
        if (!(bits === 256 && covered)) await refused(`HS${bits} with ${what}`, mac(bits, header({ alg: `HS${bits}` }), claims(), secret));
      }
      // An HS512 tag is 64 bytes, the length of an ES256 signature: it must not pass as one.
      await refused(`HS512 tag under alg ES256 with ${what}`, mac(512, header(), claims(), secret));
      await refused(`HS256 tag under alg ES256 with ${what}`, mac(256, header(), claims(), secret));
    }
  });
});

describe('kid injection', () => {
  test('path traversal, SQL, null bytes, long, unknown, and non-string kids over our valid signature', async () => {
    const kids: unknown[] = ['../../etc/passwd', '../../../../../../dev/null', `../${kid}`, '/etc/passwd', 'file:///etc/passwd', "' OR 1=1 --",
      `${kid}' OR '1'='1`, `"; DROP TABLE signing_keys; --`, `${kid}\u0000`, '\u0000', `${kid}\u0000../../x`, 'x'.repeat(4000), `${kid}${'A'.repeat(2000)}`,
      kid.toUpperCase(), ` ${kid}`, `${kid} `, kid.slice(0, -1), `${kid}=`, enc(Buffer.alloc(32, 7)), '', '__proto__', 'constructor', 'toString',
      'hasOwnProperty', 123, 0, -1, 1e308, true, null, [kid], { kid }, { toString: kid }];
    for (const k of kids) await refused(`kid ${JSON.stringify(k).slice(0, 60)}`, es256(header({ kid: k }), claims()));
    await refused('kid over the size limit', es256(header({ kid: 'k'.repeat(9000) }), claims()));
  });
});

describe('header members that point at keys, even at ours', () => {
  test('jku/x5u at our own JWKS, jwk holding OUR public key, x5c, crit, and other members are refused', async () => {
    const pub = createPublicKey({ key: publicJwk, format: 'jwk' });
    const spki = (pub.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
    const jwks = `${issuer}/.well-known/jwks.json`;
    const members: Array<[string, unknown]> = [['jwk', publicJwk], ['jwk', { ...publicJwk, kid, alg: 'ES256', use: 'sig' }], ['jwk', null],
      ['jku', jwks], ['jku', ''], ['x5u', jwks], ['x5c', [spki]], ['x5c', []], ['x5t', enc(Buffer.alloc(20))], ['x5t#S256', kid],
      ['crit', []], ['crit', ['b64']], ['b64', false], ['cty', 'JWT'], ['zip', 'DEF'], ['enc', 'A256GCM'], ['epk', publicJwk], ['Alg', 'none'],
      ['ALG', 'ES256'], ['KID', kid], ['Typ', 'at+jwt'], ['nonce', 'x'], ['iss', issuer]];
    for (const [name, value] of members) await refused(`header ${name}=${JSON.stringify(value).slice(0, 40)}`, es256(header({ [name]: value }), claims()));
    await refused('crit naming b64 with b64 false', es256(header({ crit: ['b64'], b64: false }), claims()));
    await refused('a __proto__ header member', es256(`{"alg":"ES256","kid":"${kid}","typ":"at+jwt","__proto__":{"x":1}}`, claims()));
  });
});

describe('tampering under the original signature', () => {
  test('payload edits, header edits and splicing two genuine tokens are refused', async () => {
    const [h, p, sg] = s.accessToken.split('.') as [string, string, string];
    const [oh, op, osg] = other.accessToken.split('.') as [string, string, string];
    const text = Buffer.from(p, 'base64url').toString('utf8');
    for (const [label, payload] of [['added admin claim', seg(claims({ admin: true }))], ['keys reordered', seg(Object.fromEntries(Object.entries(claims()).reverse()))],
      ['whitespace added', enc(text.replace(/,/g, ', '))], ['trailing newline', enc(`${text}\n`)], ['aud made an array', seg(claims({ aud: [audience] }))],
      ['jti changed', seg(claims({ jti: 'x' }))], ['iat changed', seg(claims({ iat: (claims().iat as number) - 1 }))]] as const) {
      await refused(`payload ${label}`, `${h}.${payload}.${sg}`);
    }
    for (const typ of ['AT+JWT', 'application/at+jwt']) await refused(`header typ ${typ} (an allowed value)`, `${seg(header({ typ }))}.${p}.${sg}`);
    await refused('header members reordered', `${seg({ typ: 'at+jwt', kid, alg: 'ES256' })}.${p}.${sg}`);
    await refused("another user's payload with our signature", `${h}.${op}.${sg}`);
    await refused("our payload with another user's signature", `${oh}.${p}.${osg}`);
    await refused('signatures swapped', `${h}.${p}.${osg}`);
    await refused('the signature repeated', `${h}.${p}.${sg}${sg}`);
  });
});

describe('base64url must be canonical', () => {
  test('standard alphabet, padding, changed trailing bits and whitespace are refused, even where the bytes are unchanged', async () => {
    const [h, p, sg] = s.accessToken.split('.') as [string, string, string];
    const std = (x: string) => x.replace(/-/g, '+').replace(/_/g, '/');
    if (/[-_]/.test(sg)) await refused('standard alphabet signature', `${h}.${p}.${std(sg)}`);
    let pad = '?';
    while (!/[+/]/.test(Buffer.from(JSON.stringify(claims({ pad }))).toString('base64'))) pad += '>';
    await refused('standard alphabet payload, signed by us', signed(`${seg(header())}.${Buffer.from(JSON.stringify(claims({ pad }))).toString('base64').replace(/=+$/, '')}`));
    await accepted('the same claims in base64url', es256(header(), claims({ pad })));
    for (const eq of ['=', '==']) {
      await refused(`signature + ${eq}`, `${h}.${p}.${sg}${eq}`);
      await refused(`header + ${eq}, signed by us`, signed(`${h}${eq}.${p}`));
      await refused(`payload + ${eq}, signed by us`, signed(`${h}.${p}${eq}`));
    }
    // 64 bytes take 86 characters; the last one carries 4 unused bits. Same bytes, another spelling.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(sg.at(-1)!);
    for (let bits = 1; bits < 16; bits += 1) {
      const alt = `${sg.slice(0, -1)}${alphabet[last ^ bits]}`;
      assert.ok(Buffer.from(alt, 'base64url').equals(Buffer.from(sg, 'base64url')), 'the bytes are the same');
      await refused(`signature trailing bits ^${bits}`, `${h}.${p}.${alt}`);
    }
    for (let spaces = 0; spaces < 3; spaces += 1) { // a payload whose length leaves unused bits, re-spelled and signed by us
      const body = seg(`${' '.repeat(spaces)}${JSON.stringify(claims())}`);
      if (body.length % 4 === 0) continue;
      const i = alphabet.indexOf(body.at(-1)!);
      await refused('payload trailing bits, signed by us', signed(`${h}.${body.slice(0, -1)}${alphabet[i ^ 1]}`));
    }
    for (const ws of [' ', '\t', '  ']) {
      for (const [label, token] of [['header', `${h.slice(0, 5)}${ws}${h.slice(5)}.${p}.${sg}`], ['payload', `${h}.${p.slice(0, 9)}${ws}${p.slice(9)}.${sg}`],
        ['signature', `${h}.${p}.${sg.slice(0, 20)}${ws}${sg.slice(20)}`], ['around a dot', `${h}${ws}.${ws}${p}.${sg}`]] as const) {
        await refused(`whitespace ${JSON.stringify(ws)} in ${label}`, token);
      }
    }
    await refused('whitespace inside, signed by us', signed(`${h.slice(0, 5)} ${h.slice(5)}.${p}`));
    await accepted('spaces around the whole token (trimmed off the Authorization header)', `  ${s.accessToken}  `);
  });
});

describe('ECDSA signature encodings', () => {
  test('the malleated signature (r, n − s) verifies mathematically and is refused', async () => {
    const [h, p, sg] = s.accessToken.split('.') as [string, string, string];
    const raw = Buffer.from(sg, 'base64url');
    const high = Buffer.concat([raw.subarray(0, 32), hex(order - BigInt(`0x${raw.subarray(32).toString('hex')}`))]);
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: publicJwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, high));
    await refused('high s', `${h}.${p}.${enc(high)}`);
    const r = raw.subarray(0, 32);
    const sv = raw.subarray(32);
    const bad: Array<[string, Buffer]> = [['s = 0', Buffer.concat([r, hex(0n)])], ['r = 0', Buffer.concat([hex(0n), sv])], ['r = n', Buffer.concat([hex(order), sv])],
      ['s = n', Buffer.concat([r, hex(order)])], ['s = s + n (mod 2^256)', Buffer.concat([r, hex((BigInt(`0x${sv.toString('hex')}`) + order) % (1n << 256n))])],
      ['zeros', Buffer.alloc(64)], ['0xff', Buffer.alloc(64, 0xff)], ['r and s swapped', Buffer.concat([sv, r])], ['63 bytes', raw.subarray(1)],
      ['65 bytes', Buffer.concat([Buffer.alloc(1), raw])], ['r||s||s', Buffer.concat([raw, sv])], ['s||r||s', Buffer.concat([sv, raw])]];
    for (const [label, bytes] of bad) await refused(label, `${h}.${p}.${enc(bytes)}`);
    await refused('DER signature, signed by us', `${h}.${p}.${enc(sig(`${h}.${p}`, true))}`);
  });
});

describe('time, issuer, audience and type claims, signed by us', () => {
  test('expired, not yet valid and iat in the future', async () => {
    for (const exp of [now() - 6, now() - 3600, 0]) await refused(`exp ${exp - now()}s`, es256(header(), claims({ exp })), 'token_expired');
    for (const nbf of [now() + 10, now() + 86400 * 365]) await refused(`nbf +${nbf - now()}s`, es256(header(), claims({ nbf })));
    await refused('iat +10s', es256(header(), claims({ iat: now() + 10, exp: now() + 900 })));
    for (const raw of ['"exp":1e400', '"iat":1e400', '"nbf":1e400', '"nbf":"0"', '"nbf":null', '"exp":true', '"exp":-1', '"iat":-5']) {
      const [name] = raw.slice(1).split('"');
      const rest = JSON.stringify(claims({ [name!]: undefined })).slice(1);
      await refused(`claim ${raw}`, es256(header(), `{${raw},${rest}`));
    }
    await accepted('nbf within the tolerance', es256(header(), claims({ nbf: now() + 3 })));
  });
  test('wrong issuer and audiences without ours', async () => {
    for (const iss of [[issuer], issuer.toUpperCase(), `${issuer}\u0000`, `${issuer}#`, null, undefined, {}]) await refused(`iss ${JSON.stringify(iss)}`, es256(header(), claims({ iss })));
    for (const aud of [[], ['other'], [audience.toUpperCase()], [[audience]], { 0: audience }, `${audience} `, ` ${audience}`, `${audience}\u0000`, null, undefined, `${audience},other`, [`${audience} `]]) {
      await refused(`aud ${JSON.stringify(aud)}`, es256(header(), claims({ aud })));
    }
    await accepted('aud array with ours among others', es256(header(), claims({ aud: ['other', audience] })));
  });
  test('typ: at+jwt and application/at+jwt in any case are accepted, nothing else', async () => {
    for (const typ of ['AT+JWT', 'At+Jwt', 'application/at+jwt', 'APPLICATION/AT+JWT', 'Application/At+JWT']) await accepted(`typ ${typ}`, es256(header({ typ }), claims()));
    for (const typ of ['at+jwt ', ' at+jwt', 'application/jwt', 'at+jwt; charset=utf-8', 'application/at+jwt;', 'application/ at+jwt', 'application/application/at+jwt',
      'at+jwt+jwt', 'at jwt', 'at-jwt', 'atjwt', 'at+jws', 'dpop+jwt', 'secevent+jwt', 'logout+jwt', 'JOSE', 'JOSE+JSON', '', null, 42, ['at+jwt'], {}, 'at+jwt\u0000',
      '\uff41\uff54+\uff4a\uff57\uff54']) {
      await refused(`typ ${JSON.stringify(typ)}`, es256(header({ typ }), claims()));
    }
  });
});

describe('wrong kind of token, size limits, duplicate members', () => {
  test('a refresh token as the Bearer access token is 401 invalid_token', async () => {
    await refused('refresh token as access token', s.refreshToken);
    await refused('refresh token with a dot', `${s.refreshToken}.${s.refreshToken}.x`);
    // (an access token presented as a refresh token is in test/http/bad-input.test.ts)
  });
  test('a correctly signed token over 8 KiB is refused; 7.9 KiB and exactly 8 KiB are read', async () => {
    const sized = (target: number): string => {
      for (let spaces = 0; spaces < 4; spaces += 1) {
        const h = seg(`${' '.repeat(spaces)}${JSON.stringify(header())}`);
        const base = JSON.stringify(claims({ pad: '' })).length;
        for (let n = Math.max(0, Math.floor(((target - h.length - 88) * 3) / 4) - base - 4); n < target; n += 1) {
          const token = signed(`${h}.${seg(claims({ pad: 'x'.repeat(n) }))}`);
          if (token.length === target) return token;
          if (token.length > target) break;
        }
      }
      throw new Error(`no token of ${target} characters`);
    };
    await accepted('7.9 KiB', sized(Math.floor(7.9 * 1024)));
    await accepted('exactly 8192', sized(8192));
    await refused('8193 characters', sized(8193));
    await refused('16 KiB', sized(16 * 1024));
  });
  test('duplicate JSON members: last one wins (JSON.parse), and no forged identity gets in', async (ctx) => {
    const body = (extra: string) => JSON.stringify(claims()).slice(0, -1) + extra;
    const otherSub = `,"sub":${JSON.stringify(other.user.id)}`;
    const [h, , sg] = s.accessToken.split('.') as [string, string, string];
    await refused('duplicate sub under the original signature', `${h}.${seg(body(`${otherSub}}`))}.${sg}`);
    await refused('duplicate sub, alg none', `${seg({ alg: 'none', typ: 'at+jwt' })}.${seg(body(`${otherSub}}`))}.`);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const input = `${seg(header())}.${seg(body(`${otherSub}}`))}`;
    await refused('duplicate sub, signed by another key', `${input}.${enc(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`);
    const h2 = (first: string, last: string) => `{"alg":${first},"kid":"${kid}","typ":"at+jwt","alg":${last}}`;
    await refused('alg ES256 then none, signed by us', es256(h2('"ES256"', '"none"'), claims()));
    await refused('alg ES256 then HS256 with an HMAC', mac(256, h2('"ES256"', '"HS256"'), claims(), JSON.stringify(publicJwk)));
    await refused('kid ours then traversal', es256(`{"alg":"ES256","kid":"${kid}","typ":"at+jwt","kid":"../../etc/passwd"}`, claims()));
    await refused('claims without sub, sub only under __proto__', es256(header(), JSON.stringify(claims({ sub: undefined })).slice(0, -1) + `,"__proto__":{"sub":"${s.user.id}"}}`));
    // Signed by us (only we can): documented behaviour, not an attack. We never sign duplicates.
    const noneThenEs = await me(es256(h2('"none"', '"ES256"'), claims()));
    const subs = await me(es256(header(), body(`${otherSub}}`)));
    ctx.diagnostic(`alg "none" then "ES256", signed by us: ${noneThenEs.statusCode} (last member wins)`);
    ctx.diagnostic(`sub ours then another user's, signed by us: ${subs.statusCode} ${subs.statusCode === 200 ? `as ${subs.json().id === other.user.id ? 'the last sub' : 'the first sub'}` : subs.json().code}`);
    assert.ok(noneThenEs.statusCode < 500 && subs.statusCode < 500);
    if (subs.statusCode === 200) assert.equal(subs.json().id, other.user.id, 'if read at all, read as JSON.parse does');
    controls += 2;
  });
  test('summary', (ctx) => {
    ctx.diagnostic(`${attacks} attacks refused, ${controls} controls accepted`);
    assert.ok(attacks > 300);
  });
});
