import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeEmail } from '../../src/core/accounts.ts';
import { resolveConfig, type TokenstileOptions } from '../../src/core/config.ts';
import { parseDuration } from '../../src/core/duration.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { isUuidv7, uuidv7, uuidv7Time } from '../../src/core/ids.ts';
import { meetsPasswordPolicy } from '../../src/core/password.ts';

const issuer = 'https://auth.example.com';
type Options = Omit<TokenstileOptions, 'stores'>;

describe('resolveConfig', () => {
  test('fills in the documented defaults', () => {
    const config = resolveConfig({ issuer });
    assert.deepEqual(config, {
      issuer,
      audience: 'tokenstile',
      accessTokenFormat: 'jwt',
      revocationCheck: 'pushed',
      dpop: 'optional',
      dpopNonce: false,
      dpopProofWindowMs: 60_000,
      accessTtlMs: 900_000,
      refreshTtlMs: 604_800_000,
      sessionMaxLifetimeMs: 30 * 86_400_000,
      signingAlgorithm: 'ES256',
      clockToleranceMs: 5_000,
      refreshGraceMs: 10_000,
      revocationPollIntervalMs: 250,
      revocationLeaseMs: 1500,
      storeLeaseMs: 1500,
      purgeIntervalMs: 3_600_000,
      verifiedTokenCacheSize: 10_000,
      keyPublishMs: (900 + 300) * 1000 + 60_000,
      rateLimits: {
        loginPerAccount: { limit: 10, windowMs: 900_000 },
        loginPerAccountAllClients: { limit: 100, windowMs: 900_000 },
        loginPerIp: { limit: 100, windowMs: 900_000 },
        registerPerIp: { limit: 20, windowMs: 3_600_000 },
        refreshPerIp: { limit: 600, windowMs: 60_000 },
        mailPerAccount: { limit: 5, windowMs: 3_600_000 },
        mailPerIp: { limit: 30, windowMs: 3_600_000 },
      },
      auditRetentionMs: 90 * 86_400_000,
    });
  });

  test('applies overrides given as text or seconds', () => {
    const config = resolveConfig({
      issuer: 'http://127.0.0.1:3000',
      audience: 'api',
      accessTokenTtl: '5m',
      refreshTokenTtl: 86400,
      signingAlgorithm: 'EdDSA',
      clockTolerance: 0,
      refreshGrace: '30s',
      revocationPollInterval: '250ms',
      purgeInterval: '2h',
    });
    assert.equal(config.audience, 'api');
    assert.equal(config.accessTtlMs, 300_000);
    assert.equal(config.refreshTtlMs, 86_400_000);
    assert.equal(config.signingAlgorithm, 'EdDSA');
    assert.equal(config.clockToleranceMs, 0);
    assert.equal(config.refreshGraceMs, 30_000);
    assert.equal(config.revocationPollIntervalMs, 250);
    assert.equal(config.purgeIntervalMs, 7_200_000);
    assert.equal(config.keyPublishMs, (300 + 300) * 1000 + 60_000, 'a retired key outlives its tokens under any tolerance');
    assert.equal(config.verifiedTokenCacheSize, 10_000);
  });

  test('returns a frozen object', () => {
    const config = resolveConfig({ issuer });
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { accessTtlMs: number }).accessTtlMs = 1;
    }, TypeError);
    assert.equal(config.accessTtlMs, 900_000);
  });

  const invalid: Array<[string, Options, RegExp]> = [
    ['an issuer that is not a URL', { issuer: 'auth.example.com' }, /issuer/],
    ['an issuer that is not http(s)', { issuer: 'ftp://auth.example.com' }, /issuer/],
    ['an empty audience', { issuer, audience: '' }, /audience/],
    ['a duration that is not one', { issuer, accessTokenTtl: '15 minutes' }, /accessTokenTtl/],
    ['an access TTL of 0', { issuer, accessTokenTtl: 0 }, /accessTokenTtl/],
    ['an access TTL over 24h', { issuer, accessTokenTtl: '25h' }, /accessTokenTtl/],
    ['an unknown algorithm', { issuer, signingAlgorithm: 'HS256' as 'ES256' }, /signingAlgorithm/],
    ['a refresh TTL shorter than the access TTL', { issuer, accessTokenTtl: '1h', refreshTokenTtl: '30m' }, /refreshTokenTtl/],
    ['a refresh TTL equal to the access TTL', { issuer, accessTokenTtl: '1h', refreshTokenTtl: '1h' }, /refreshTokenTtl/],
    ['a clock tolerance over 5m', { issuer, clockTolerance: '6m' }, /clockTolerance/],
    ['a negative refresh grace', { issuer, refreshGrace: -1 }, /refreshGrace/],
    ['a bad poll interval', { issuer, revocationPollInterval: 'often' }, /revocationPollInterval/],
    ['a purge interval under 1s', { issuer, purgeInterval: '10ms' }, /purgeInterval/],
  ];
  for (const [what, options, field] of invalid) {
    test(`rejects ${what} with a ConfigError naming the field`, () => {
      assert.throws(
        () => resolveConfig(options),
        (err: unknown) => err instanceof ConfigError && field.test(err.message),
      );
    });
  }
});

describe('parseDuration', () => {
  const valid: Array<[string | number, number]> = [
    [90, 90], [0, 0], [1.5, 1.5], ['90', 90], ['90s', 90], ['15m', 900], ['1h', 3600], ['7d', 604800],
    ['1500ms', 1.5], [' 2h ', 7200], ['1.5h', 5400], ['0s', 0], ['10 m', 600],
  ];
  for (const [input, seconds] of valid) {
    test(`reads ${JSON.stringify(input)} as ${seconds}s`, () => {
      assert.equal(parseDuration(input), seconds);
    });
  }

  test('rejects anything else with a ConfigError naming what was parsed', () => {
    for (const bad of ['', 'm', '15 minutes', '-5s', '1e3', '1w', '.5s', '5s5', -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => parseDuration(bad, 'someTtl'),
        (err: unknown) => err instanceof ConfigError && /someTtl/.test(err.message),
        JSON.stringify(bad),
      );
    }
  });
});

describe('meetsPasswordPolicy', () => {
  const cases: Array<[string, string, boolean]> = [
    ['8 characters, letters and digits', 'abcdefg1', true],
    ['7 characters', 'abcdef1', false],
    ['letters only', 'abcdefgh', false],
    ['digits only', '12345678', false],
    ['symbols only', '!@#$%^&*', false],
    ['letters and a space', 'correct horse', true],
    ['digits and symbols', '1234-5678', true],
    ['non-Latin letters and digits', 'пароль123', true],
    ['256 characters', `${'a'.repeat(255)}1`, true],
    ['257 characters', `${'a'.repeat(256)}1`, false],
    ['8 code points in 12 UTF-16 units', '😀😀😀😀abcd', true],
    ['7 code points in 11 UTF-16 units', '😀😀😀😀abc', false],
    ['256 emoji code points and a letter', `${'😀'.repeat(255)}a`, true],
    ['257 emoji code points', `${'😀'.repeat(256)}a`, false],
    // NFKC: the ligature ﬁ becomes "fi" (one more code point).
    ['7 code points that NFKC makes 8', 'abcdeﬁ1', true],
    // NFKC composes g + U+0301 into one letter: 7 code points of one class remain.
    ['a combining mark that NFKC composes away', 'abcdefg\u0301', false],
    // Fullwidth digits are digits after NFKC, and still one class.
    ['fullwidth digits only', '１２３４５６７８', false],
  ];
  for (const [what, password, expected] of cases) {
    test(`${expected ? 'accepts' : 'refuses'} ${what}`, () => {
      assert.equal(meetsPasswordPolicy(password), expected);
    });
  }
});

describe('normalizeEmail', () => {
  test('trims and lower-cases a plausible address', () => {
    assert.equal(normalizeEmail('  Ada.Lovelace@Example.COM \n'), 'ada.lovelace@example.com');
    assert.equal(normalizeEmail('a+tag@sub.example.org'), 'a+tag@sub.example.org');
  });

  test('returns null for implausible addresses', () => {
    for (const bad of ['', 'ada', 'ada@', '@example.com', 'ada@example', 'a da@example.com', 'ada@@example.com', 'ada@exa mple.com']) {
      assert.equal(normalizeEmail(bad), null, JSON.stringify(bad));
    }
  });

  test('look-alikes: compatibility forms normalize to the plain address; invisible characters and empty domain labels are refused', () => {
    const plain = 'ada@example.com';
    // NFKC: full-width letters and at sign, a ligature, a mathematical bold letter.
    for (const same of ['ａｄａ@ｅｘａｍｐｌｅ.ｃｏｍ', 'ada＠example.com', 'ADA@EXAMPLE.COM', '\u{1d41a}da@example.com']) {
      assert.equal(normalizeEmail(same), plain, JSON.stringify(same));
    }
    assert.equal(normalizeEmail('\ufb01@example.com'), 'fi@example.com', 'the fi ligature is two letters');
    const invisible = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u034f', '\u3164', '\u200e', '\u202e', '\u2066', '\u0085', '\u009b', '\u007f', '\u0000', '\u00a0', '\u{e0041}'];
    for (const ch of invisible) {
      for (const bad of [`ad${ch}a@example.com`, `ada@exam${ch}ple.com`]) assert.equal(normalizeEmail(bad), null, JSON.stringify(bad));
    }
    for (const bad of ['ada@example.com.', 'ada@example..com', 'ada@.example.com', 'ada@example.com..']) assert.equal(normalizeEmail(bad), null, JSON.stringify(bad));
  });

  test('accepts 254 characters and refuses 255', () => {
    const at = (n: number) => `${'a'.repeat(n - '@example.com'.length)}@example.com`;
    assert.equal(normalizeEmail(at(254))?.length, 254);
    assert.equal(normalizeEmail(at(255)), null);
    assert.equal(normalizeEmail(` ${at(254)} `)?.length, 254, 'length is counted after trimming');
  });
});

describe('UUIDv7 ids', () => {
  test('uuidv7 embeds the millisecond time that uuidv7Time reads back', () => {
    for (const ms of [0, 1, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 0.9, 2 ** 48 - 1]) {
      const id = uuidv7(ms);
      assert.ok(isUuidv7(id), id);
      assert.equal(uuidv7Time(id), Math.floor(ms));
    }
  });

  test('sets the version and variant whatever the random bytes', () => {
    for (const fill of [0x00, 0xff]) {
      const id = uuidv7(Date.UTC(2026, 0, 1), (n) => Buffer.alloc(n, fill));
      assert.ok(isUuidv7(id), id);
      assert.equal(id[14], '7');
      assert.match(id[19]!, /[89ab]/);
    }
  });

  test('ids sort by creation time', () => {
    const ids = [3, 1, 2].map((d) => uuidv7(Date.UTC(2026, 0, d)));
    assert.deepEqual([...ids].sort(), [ids[1], ids[2], ids[0]]);
  });

  test('isUuidv7 refuses other UUIDs and text; uuidv7Time gives NaN for them', () => {
    const v7 = uuidv7(Date.UTC(2026, 0, 1));
    for (const bad of [crypto.randomUUID(), v7.toUpperCase(), v7.replaceAll('-', ''), `${v7}0`, `${v7.slice(0, 19)}c${v7.slice(20)}`, '']) {
      assert.equal(isUuidv7(bad), false, bad);
      assert.ok(Number.isNaN(uuidv7Time(bad)), bad);
    }
  });
});
