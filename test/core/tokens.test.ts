import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessTokenVerifier, issueAccessToken, maxTokenLength, type AccessTokenSettings } from '../../src/core/access-tokens.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { uuidv7 } from '../../src/core/ids.ts';
import { signCompact } from '../../src/core/jws.ts';
import { generateSigningKey, Keyring, signingAlgorithms, type SigningAlgorithm } from '../../src/core/keys.ts';
import { clientTag, openGraceBox, openSuccessor, RefreshTokenCodec, sealSuccessor } from '../../src/core/refresh-tokens.ts';

const t0 = Date.UTC(2026, 0, 1);
const settings: AccessTokenSettings = { issuer: 'https://auth.example.com', audience: 'tokenstile', accessTtlMs: 900_000, clockToleranceMs: 5_000 };
const subject = { userId: uuidv7(t0), sessionId: uuidv7(t0) };

const keyrings = new Map<SigningAlgorithm, Keyring>();
function keyring(alg: SigningAlgorithm): Keyring {
  let k = keyrings.get(alg);
  if (!k) keyrings.set(alg, (k = new Keyring([generateSigningKey(alg, t0)], alg, t0, 0)));
  return k;
}

function setup(alg: SigningAlgorithm = 'ES256', overrides: Partial<AccessTokenSettings> = {}) {
  const clock = new ManualClock(t0);
  const ring = keyring(alg);
  const verifier = new AccessTokenVerifier(() => ring, { ...settings, ...overrides }, clock);
  /** A token signed with the real key, with any header and claims. */
  const forge = (header: object, claims: object) => signCompact(ring.alg, ring.signing.key, header, claims);
  const header = { alg: ring.alg, kid: ring.signing.kid, typ: 'at+jwt' };
  const now = Math.floor(t0 / 1000);
  const claims = { iss: settings.issuer, aud: settings.audience, sub: subject.userId, sid: subject.sessionId, jti: 'j1', iat: now, exp: now + 900 };
  return { clock, ring, verifier, forge, header, claims };
}

const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);

describe('access tokens', () => {
  for (const alg of signingAlgorithms) {
    test(`a token issued with ${alg} verifies and carries its claims`, () => {
      const { clock, ring, verifier } = setup(alg);
      const { token, claims } = issueAccessToken(ring, settings, clock, subject);
      const result = verifier.verify(token);
      assert.ok(result.ok);
      assert.deepEqual(result.value, claims);
      assert.equal(claims.sub, subject.userId);
      assert.equal(claims.sid, subject.sessionId);
      assert.equal(claims.exp - claims.iat, 900);
      const [header] = token.split('.');
      assert.deepEqual(JSON.parse(Buffer.from(header!, 'base64url').toString()), { alg, kid: ring.signing.kid, typ: 'at+jwt' });
    });
  }

  test('an expired token gives token_expired, but not within the clock tolerance', () => {
    const { clock, ring, verifier } = setup();
    const { token, claims } = issueAccessToken(ring, settings, clock, subject);
    clock.set(claims.exp * 1000 + 4_999);
    assert.equal(codeOf(verifier.verify(token)), 'ok');
    clock.set(claims.exp * 1000 + 5_000);
    assert.equal(codeOf(verifier.verify(token)), 'token_expired');
  });

  test('iat or nbf beyond the tolerance in the future gives invalid_token', () => {
    const { verifier, forge, header, claims } = setup();
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, iat: claims.iat + 5 }))), 'ok');
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, iat: claims.iat + 6 }))), 'invalid_token');
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, nbf: claims.iat + 5 }))), 'ok');
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, nbf: claims.iat + 6 }))), 'invalid_token');
  });

  test('a wrong issuer or audience gives invalid_token; an audience list containing ours is accepted', () => {
    const { verifier, forge, header, claims } = setup();
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, iss: 'https://evil.example.com' }))), 'invalid_token');
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, aud: 'other-api' }))), 'invalid_token');
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, aud: ['other-api'] }))), 'invalid_token');
    assert.equal(codeOf(verifier.verify(forge(header, { ...claims, aud: ['other-api', 'tokenstile'] }))), 'ok');
    const strict = setup('ES256', { audience: 'billing' });
    const { token } = issueAccessToken(strict.ring, settings, strict.clock, subject);
    assert.equal(codeOf(strict.verifier.verify(token)), 'invalid_token');
  });

  test('a token longer than 8192 characters gives invalid_token even when correctly signed', () => {
    const { verifier, forge, header, claims } = setup();
    const sized = (pad: number) => forge(header, { ...claims, pad: 'x'.repeat(pad) });
    let pad = 5000;
    while (sized(pad + 1).length <= maxTokenLength) pad++;
    assert.ok(sized(pad).length <= maxTokenLength && sized(pad).length > maxTokenLength - 4);
    assert.equal(codeOf(verifier.verify(sized(pad))), 'ok');
    assert.ok(sized(pad + 1).length > maxTokenLength);
    assert.equal(codeOf(verifier.verify(sized(pad + 1))), 'invalid_token');
  });

  test('a header with any member beyond alg, kid and typ gives invalid_token', () => {
    const { ring, verifier, forge, header, claims } = setup();
    const extras: Record<string, unknown> = {
      jku: 'https://evil.example.com/jwks.json',
      jwk: ring.jwks().keys[0],
      x5u: 'https://evil.example.com/cert.pem',
      x5c: ['MIIB'],
      crit: ['exp'],
    };
    for (const [name, value] of Object.entries(extras)) {
      assert.equal(codeOf(verifier.verify(forge({ ...header, [name]: value }, claims))), 'invalid_token', name);
    }
    assert.equal(codeOf(verifier.verify(forge(header, claims))), 'ok');
  });

  test('a header naming another algorithm gives invalid_token', () => {
    const { verifier, forge, header, claims } = setup('ES256');
    for (const alg of ['EdDSA', 'RS256', 'ES384', 'HS256', 'none']) {
      assert.equal(codeOf(verifier.verify(forge({ ...header, alg }, claims))), 'invalid_token', alg);
    }
    const ed = setup('EdDSA');
    const edToken = ed.forge({ ...ed.header, kid: header.kid }, claims);
    assert.equal(codeOf(verifier.verify(edToken)), 'invalid_token');
  });

  test('a wrong typ, an unknown kid or a foreign signature gives invalid_token', () => {
    const { verifier, forge, header, claims } = setup();
    assert.equal(codeOf(verifier.verify(forge({ ...header, typ: 'JWT' }, claims))), 'invalid_token');
    assert.equal(codeOf(verifier.verify(forge({ ...header, kid: 'unknown' }, claims))), 'invalid_token');
    const stranger = new Keyring([generateSigningKey('ES256', t0)], 'ES256', t0, 0);
    const foreign = signCompact('ES256', stranger.signing.key, header, claims);
    assert.equal(codeOf(verifier.verify(foreign)), 'invalid_token');
    const [h, , sig] = forge(header, claims).split('.');
    const otherPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
    assert.equal(codeOf(verifier.verify(`${h}.${otherPayload}.${sig}`)), 'invalid_token');
  });

  test('a non-canonical base64url signature gives invalid_token', () => {
    for (const alg of signingAlgorithms) {
      const { clock, ring, verifier } = setup(alg);
      const { token } = issueAccessToken(ring, settings, clock, subject);
      assert.equal(codeOf(verifier.verify(token)), 'ok');
      // The last character of a 64- or 256-byte signature carries 2 bits; changing the 4 unused
      // bits gives another spelling of the same bytes.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(token.at(-1)!);
      const variant = token.slice(0, -1) + alphabet[last ^ 1];
      assert.deepEqual(Buffer.from(variant.split('.')[2]!, 'base64url'), Buffer.from(token.split('.')[2]!, 'base64url'));
      assert.equal(codeOf(verifier.verify(variant)), 'invalid_token', alg);
      assert.equal(codeOf(verifier.verify(`${token}=`)), 'invalid_token', `${alg} padded`);
    }
  });

  test('malformed input gives invalid_token', () => {
    const { verifier } = setup();
    for (const bad of ['', 'a', 'a.b', 'a.b.c.d', '..', 'a..c', '.b.c', 'eyJ.eyJ.!!!']) {
      assert.equal(codeOf(verifier.verify(bad)), 'invalid_token', JSON.stringify(bad));
    }
  });
});

describe('refresh tokens', () => {
  const macKey = Buffer.alloc(32, 7);
  const codec = new RefreshTokenCodec(macKey);
  const sessionId = uuidv7(t0);

  test('mint and parse round-trip session id, generation and secret', () => {
    const minted = codec.mint(sessionId, 41);
    assert.match(minted.token, /^tsr_[A-Za-z0-9_-]{92}$/);
    const parts = codec.parse(minted.token);
    assert.deepEqual(parts, { sessionId, generation: 41, secret: minted.secret });
    assert.notEqual(codec.mint(sessionId, 41).token, minted.token);
  });

  test('a token with any byte changed does not parse', () => {
    const { token } = codec.mint(sessionId, 3);
    const raw = Buffer.from(token.slice(4), 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const tampered = Buffer.from(raw);
      tampered[i]! ^= 0x01;
      assert.equal(codec.parse(`tsr_${tampered.toString('base64url')}`), null, `byte ${i}`);
    }
  });

  test('a token minted under another MAC key does not parse', () => {
    const other = new RefreshTokenCodec(Buffer.alloc(32, 8));
    assert.equal(codec.parse(other.mint(sessionId, 0).token), null);
    assert.throws(() => new RefreshTokenCodec(Buffer.alloc(31)));
  });

  test('a wrong length, prefix or type does not parse', () => {
    const { token } = codec.mint(sessionId, 0);
    const body = token.slice(4);
    for (const bad of [token.slice(0, -1), `${token}A`, `tsx_${body}`, `TSR_${body}`, body, `tsr_${body.slice(0, -2)}==`, '', 42, null, undefined]) {
      assert.equal(codec.parse(bad), null, String(bad));
    }
  });

  test('sealSuccessor and openSuccessor round-trip under the spent secret and session', () => {
    const spent = codec.mint(sessionId, 0);
    const next = codec.mint(sessionId, 1);
    const box = sealSuccessor(spent.secret, sessionId, next.token);
    assert.equal(openSuccessor(spent.secret, sessionId, box), next.token);
    assert.equal(box.includes(next.token.slice(4, 20)), false);
  });

  test('openSuccessor with another secret, another session or a tampered box gives null', () => {
    const spent = codec.mint(sessionId, 0);
    const box = sealSuccessor(spent.secret, sessionId, codec.mint(sessionId, 1).token);
    assert.equal(openSuccessor(codec.mint(sessionId, 0).secret, sessionId, box), null);
    assert.equal(openSuccessor(spent.secret, uuidv7(t0 + 1), box), null);
    const raw = Buffer.from(box, 'base64url');
    raw[raw.length - 1]! ^= 0x01;
    assert.equal(openSuccessor(spent.secret, sessionId, raw.toString('base64url')), null);
    assert.equal(openSuccessor(spent.secret, sessionId, ''), null);
  });

  test('a grace box names the client that rotated (as a digest), and boxes sealed without one still open', () => {
    const spent = codec.mint(sessionId, 0);
    const next = codec.mint(sessionId, 1);
    const box = sealSuccessor(spent.secret, sessionId, next.token, undefined, clientTag('Phone/1.0'));
    assert.deepEqual(openGraceBox(spent.secret, sessionId, box), { successor: next.token, client: clientTag('Phone/1.0') });
    assert.equal(openSuccessor(spent.secret, sessionId, box), next.token);
    assert.notEqual(clientTag('Phone/1.0'), clientTag('curl/8.0'));
    assert.equal(clientTag(null), clientTag(undefined));
    assert.deepEqual(openGraceBox(spent.secret, sessionId, sealSuccessor(spent.secret, sessionId, next.token)), { successor: next.token, client: null });
  });
});

describe('verified-token cache', () => {
  test('a remembered token still expires on time', () => {
    const { clock, ring, verifier } = setup();
    const { token, claims } = issueAccessToken(ring, settings, clock, subject);
    for (let i = 0; i < 3; i++) assert.equal(codeOf(verifier.verify(token)), 'ok');
    clock.set((claims.exp + 5) * 1000);
    assert.equal(codeOf(verifier.verify(token)), 'token_expired');
  });

  test('a token altered after its original was remembered is still checked in full', () => {
    const { clock, ring, verifier } = setup();
    const { token } = issueAccessToken(ring, settings, clock, subject);
    assert.equal(codeOf(verifier.verify(token)), 'ok');
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    const altered = `${token.slice(0, -2)}${last}${token.at(-1)}`;
    assert.equal(codeOf(verifier.verify(altered)), 'invalid_token');
    const parts = token.split('.');
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString());
    const swapped = `${parts[0]}.${Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url')}.${parts[2]}`;
    assert.equal(codeOf(verifier.verify(swapped)), 'invalid_token');
  });

  test('a new keyring forgets what the old one verified', () => {
    const clock = new ManualClock(t0);
    const old = keyring('ES256');
    let current = old;
    const verifier = new AccessTokenVerifier(() => current, settings, clock);
    const { token } = issueAccessToken(old, settings, clock, subject);
    assert.equal(codeOf(verifier.verify(token)), 'ok');
    current = new Keyring([generateSigningKey('ES256', t0)], 'ES256', t0, 0);
    assert.equal(codeOf(verifier.verify(token)), 'invalid_token');
  });

  for (const size of [0, 1]) {
    test(`with room for ${size} token(s), every token still verifies correctly`, () => {
      const clock = new ManualClock(t0);
      const ring = keyring('ES256');
      const verifier = new AccessTokenVerifier(() => ring, settings, clock, size);
      const a = issueAccessToken(ring, settings, clock, subject).token;
      const b = issueAccessToken(ring, settings, clock, { ...subject, sessionId: uuidv7(t0 + 1) }).token;
      for (const t of [a, b, a, b]) assert.equal(codeOf(verifier.verify(t)), 'ok');
      clock.advance(906_000);
      for (const t of [a, b]) assert.equal(codeOf(verifier.verify(t)), 'token_expired');
    });
  }
});

describe('ECDSA signature malleability', () => {
  const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  test('every ES256 token is signed with a low s, and its high-s twin is refused', () => {
    const { clock, ring, verifier } = setup('ES256');
    for (let i = 0; i < 40; i++) {
      const { token } = issueAccessToken(ring, settings, clock, { ...subject, sessionId: uuidv7(t0 + i) });
      const [h, p, sig] = token.split('.') as [string, string, string];
      const raw = Buffer.from(sig, 'base64url');
      const s = BigInt(`0x${raw.subarray(32).toString('hex')}`);
      assert.ok(s <= n >> 1n, 'low s');
      const twin = Buffer.concat([raw.subarray(0, 32), Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]);
      assert.equal(codeOf(verifier.verify(token)), 'ok');
      assert.equal(codeOf(verifier.verify(`${h}.${p}.${twin.toString('base64url')}`)), 'invalid_token', 'the mathematically valid twin is refused');
    }
  });
});
