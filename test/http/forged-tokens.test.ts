import { signCompact } from '../../src/core/jws.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { issuer, jwtOnly, testApp, type TestApp, type TokenBody } from '../helpers.ts';
import { expectProblem, expectTokenRefused } from './problem-assertions.ts';
import { internals } from '../../src/core/core-internals.ts';

let t: TestApp;
let s: TokenBody;
let ours: KeyObject;
let kid: string;
let publicJwk: JsonWebKey;
before(async () => {
  t = await testApp();
  s = await t.signUp();
  const [stored] = await internals(t.app.tokenstile).stores.keys.listSigningKeys();
  assert.ok(stored, 'the app made a signing key');
  ours = createPrivateKey({ key: stored.privateJwk, format: 'jwk' });
  kid = stored.kid;
  publicJwk = stored.publicJwk;
});
after(() => t.close());

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const me = (authorization?: string) =>
  t.app.inject({ method: 'GET', url: '/auth/me', headers: authorization === undefined ? {} : { authorization } });

function header(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: 'ES256', kid, typ: 'at+jwt', ...extra };
}

/** The claims of the signed-up user's real token, with `extra` merged in. */
function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const [, payload] = s.accessToken.split('.');
  return { ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')), ...extra };
}

/** An ES256 JWS over `h` and `c` with `key` (our key unless told). */
/** Signs like the server does (ES256 with a low s), so a refusal is never about the signature's s. */
function es256(h: Record<string, unknown>, c: Record<string, unknown>, key: KeyObject = ours): string {
  return signCompact('ES256', key, h, c);
}

function hs256(h: Record<string, unknown>, c: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64(h)}.${b64(c)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('the hand-built tokens below are otherwise correct', { skip: jwtOnly }, () => {
  test('a token built here with our key, header and claims is accepted (so each refusal below is meaningful)', async () => {
    const res = await me(`Bearer ${es256(header(), claims({ jti: 'hand-built' }))}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, s.user.id);
  });
});

describe('Authorization headers that carry no Bearer token', () => {
  // RFC 6750 §3.1: with no Bearer credentials (none sent, or another scheme), the challenge has no error code.
  const cases: Array<[string, () => string | undefined]> = [
    ['a missing header', () => undefined],
    ['another scheme', () => 'Basic xyz'],
    ['another scheme carrying our real token', () => `Token ${s.accessToken}`],
    ['no scheme at all (the bare token)', () => s.accessToken],
    ['a bare "Bearer"', () => 'Bearer'],
    ['"Bearer" and spaces', () => 'Bearer    '],
  ];
  for (const [what, value] of cases) {
    test(`${what} is 401 invalid_token with a bare Bearer challenge`, async () => {
      const res = await me(value());
      expectProblem(res, 401, 'invalid_token');
      // Bare (RFC 6750 §3.1), and with DPoP on (the default), the DPoP scheme's too (RFC 9449 §7.2).
      assert.match(String(res.headers['www-authenticate']), /^Bearer realm="tokenstile"(, DPoP algs="[^"]+")?$/);
    });
  }
});

describe('malformed Bearer tokens are 401 invalid_token with error="invalid_token"', () => {
  const cases: Array<[string, string]> = [
    ['one segment', 'Bearer abc'],
    ['two segments', 'Bearer a.b'],
    ['three empty segments', 'Bearer ..'],
    ['four segments', 'Bearer a.b.c.d'],
    ['three dots', 'Bearer ...'],
    ['non-base64 characters', 'Bearer ab$c.d!e.f*g'],
    ['standard base64 with padding', 'Bearer eyJhbGciOiJFUzI1NiJ9+/=.e30=.c2ln=='],
    ['10 KB of junk', `Bearer ${'x'.repeat(10 * 1024)}`],
    ['10 KB of dotted junk', `Bearer ${'a.'.repeat(5 * 1024)}`],
    ['a JSON header that is not an object', `Bearer ${b64('[1]')}.${b64('{}')}.c2ln`],
    ['a header that is not JSON', `Bearer ${b64('not json')}.${b64('{}')}.c2ln`],
    ['lower-case scheme with junk', 'bearer not-a-token'],
  ];
  for (const [what, value] of cases) {
    test(what, async () => expectTokenRefused(await me(value), 'invalid_token'));
  }
  test('a real token with a character appended or removed', async () => {
    expectTokenRefused(await me(`Bearer ${s.accessToken}x`), 'invalid_token');
    expectTokenRefused(await me(`Bearer ${s.accessToken.slice(0, -1)}`), 'invalid_token');
  });
});

describe('forged and misdirected access tokens are 401 invalid_token', { skip: jwtOnly }, () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    test(`alg ${alg}`, async () => {
      const input = `${b64(header({ alg }))}.${b64(claims())}`;
      expectTokenRefused(await me(`Bearer ${input}.`), 'invalid_token');
      expectTokenRefused(await me(`Bearer ${input}.${b64('sig')}`), 'invalid_token');
      const withoutKid = `${b64({ alg, typ: 'at+jwt' })}.${b64(claims())}`;
      expectTokenRefused(await me(`Bearer ${withoutKid}.`), 'invalid_token');
    });
  }

  test('signed by another ES256 key under our kid', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expectTokenRefused(await me(`Bearer ${es256(header(), claims(), privateKey)}`), 'invalid_token');
  });

  test('HS256 with our public key (as JWK, JSON or PEM) as the HMAC secret', async () => {
    const pem = createPublicKey({ key: publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    for (const secret of [JSON.stringify(publicJwk), pem, String(publicJwk.x ?? ''), kid]) {
      expectTokenRefused(await me(`Bearer ${hs256(header({ alg: 'HS256' }), claims(), secret)}`), 'invalid_token');
    }
  });

  test('another algorithm named in the header over our own signature', async () => {
    for (const alg of ['RS256', 'ES384', 'EdDSA', 'PS256', 'es256']) {
      expectTokenRefused(await me(`Bearer ${es256(header({ alg }), claims())}`), 'invalid_token');
    }
  });

  test('a kid that is not in our key set', async () => {
    expectTokenRefused(await me(`Bearer ${es256(header({ kid: 'someone-else' }), claims())}`), 'invalid_token');
    const { kid: _omit, ...noKid } = header();
    expectTokenRefused(await me(`Bearer ${es256(noKid, claims())}`), 'invalid_token');
  });

  test('another audience, signed with our key', async () => {
    for (const aud of ['other-api', ['other-api'], '', 'Tokenstile']) {
      expectTokenRefused(await me(`Bearer ${es256(header(), claims({ aud }))}`), 'invalid_token');
    }
  });

  test('another issuer, signed with our key', async () => {
    for (const iss of ['https://evil.example', `${issuer}/`, issuer.replace('http:', 'https:'), '']) {
      expectTokenRefused(await me(`Bearer ${es256(header(), claims({ iss }))}`), 'invalid_token');
    }
  });

  for (const member of ['jku', 'jwk', 'x5u', 'x5c', 'crit']) {
    test(`a ${member} header member, even over our valid signature`, async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const values: Record<string, unknown> = {
        jku: 'https://evil.example/jwks.json',
        jwk: publicKey.export({ format: 'jwk' }),
        x5u: 'https://evil.example/cert.pem',
        x5c: ['MIIB'],
        crit: ['exp'],
      };
      expectTokenRefused(await me(`Bearer ${es256(header({ [member]: values[member] }), claims())}`), 'invalid_token');
      // And the classic attack: signed with the attacker's key that the header points to.
      expectTokenRefused(await me(`Bearer ${es256(header({ [member]: values[member] }), claims(), privateKey)}`), 'invalid_token');
    });
  }

  test('a typ other than at+jwt (an ID token or plain JWT cannot be used as an access token)', async () => {
    for (const typ of ['JWT', 'jwt', 'id_token+jwt', undefined]) {
      expectTokenRefused(await me(`Bearer ${es256(header({ typ }), claims())}`), 'invalid_token');
    }
  });

  test('a tampered payload under the original signature', async () => {
    const other = await t.signUp();
    const [h, , sig] = s.accessToken.split('.');
    for (const change of [{ sub: other.user.id }, { sid: other.session.id }, { exp: (claims().exp as number) + 86400 }]) {
      expectTokenRefused(await me(`Bearer ${h}.${b64(claims(change))}.${sig}`), 'invalid_token');
    }
  });

  test('missing or mistyped claims, signed with our key', async () => {
    for (const change of [{ sub: undefined }, { sid: undefined }, { jti: undefined }, { exp: '9999999999' }, { iat: undefined }, { sub: 42 }]) {
      expectTokenRefused(await me(`Bearer ${es256(header(), claims(change))}`), 'invalid_token');
    }
  });

  test('a token issued in the future (iat beyond the tolerance) is refused', async () => {
    const now = Math.floor(t.clock.now() / 1000);
    expectTokenRefused(await me(`Bearer ${es256(header(), claims({ iat: now + 3600, exp: now + 4500 }))}`), 'invalid_token');
    expectTokenRefused(await me(`Bearer ${es256(header(), claims({ nbf: now + 3600 }))}`), 'invalid_token');
  });
});
