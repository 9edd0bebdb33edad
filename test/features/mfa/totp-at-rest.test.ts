// What the MFA feature keeps in its tables: TOTP secrets sealed under the key-encryption key when
// one is set (and readable after a restart with it, refused without it), recovery codes and
// mfaTokens only as hashes, expired pending sign-ins purged.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { internals } from '../../../src/core/core-internals.ts';
import { totpCode } from './totp-code.ts';
import { tempDir, testApp, uniqueEmail } from '../../helpers.ts';
import { enrolTotp, login, mfaRequired, nextStep, post } from './mfa-test-kit.ts';

const keyEncryptionKey = randomBytes(32).toString('base64url');

test('with a key-encryption key the TOTP secret is sealed at rest; it keeps working after a restart; codes and tokens are stored hashed', async () => {
  const dir = tempDir();
  const databaseUrl = `sqlite:${dir.path}/t.db`;
  const email = uniqueEmail();
  try {
    let secret: string;
    let codes: string[];
    const first = await testApp({ databaseUrl, keyEncryptionKey });
    try {
      ({ secret, recoveryCodes: codes } = await enrolTotp(first, await first.signUp(email)));
      const { mfaToken } = await mfaRequired(first, email);
      const db = internals(first.app.tokenstile).stores.database;
      const [row] = await db.query<{ secret: string }>('SELECT secret FROM mfa_totp');
      assert.ok(row!.secret.startsWith('tsenc1.'), 'sealed');
      assert.ok(!row!.secret.includes(secret));
      const stored = JSON.stringify([...(await db.query('SELECT * FROM mfa_recovery_codes')), ...(await db.query('SELECT * FROM mfa_challenges'))]);
      for (const c of codes) assert.ok(!stored.includes(c) && !stored.includes(c.replace('-', '')), 'no recovery code in clear');
      assert.ok(!stored.includes(mfaToken) && !stored.includes(mfaToken.slice(4)), 'no mfaToken in clear');
    } finally {
      await first.close();
    }
    const again = await testApp({ databaseUrl, keyEncryptionKey });
    try {
      nextStep(again);
      const r = await post(again, '/auth/mfa/verify', { mfaToken: (await mfaRequired(again, email)).mfaToken, method: 'totp', code: totpCode(secret, again.clock.now()) });
      assert.equal(r.statusCode, 200, r.body);
    } finally {
      await again.close();
    }
    // Without the key, the core cannot read its own signing keys either: it refuses to start.
    await assert.rejects(testApp({ databaseUrl }), /keyEncryptionKey/);
  } finally {
    dir.cleanup();
  }
});

test('without a key-encryption key the secret is stored as is; expired pending sign-ins and old failures are purged', async () => {
  const t = await testApp();
  try {
    const email = uniqueEmail();
    const { secret } = await enrolTotp(t, await t.signUp(email));
    const db = internals(t.app.tokenstile).stores.database;
    assert.equal((await db.query<{ secret: string }>('SELECT secret FROM mfa_totp'))[0]!.secret, secret);
    const { mfaToken } = await mfaRequired(t, email);
    assert.equal((await post(t, '/auth/mfa/verify', { mfaToken, method: 'recovery_code', code: 'aaaaa-bbbbb' })).statusCode, 401);
    const count = async (table: string) => Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n);
    assert.equal(await count('mfa_challenges'), 1);
    assert.equal(await count('mfa_failures'), 1);
    t.clock.advance(16 * 60_000);
    await t.app.tokenstile.purge();
    assert.equal(await count('mfa_challenges'), 0);
    assert.equal(await count('mfa_failures'), 0);
    assert.equal((await login(t, email)).statusCode, 403, 'still a second factor');
  } finally {
    await t.close();
  }
});
