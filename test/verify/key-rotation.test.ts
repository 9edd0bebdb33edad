import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CliIo } from '../../src/cli/admin-commands.ts';
import { runCli } from '../../src/cli/main.ts';
import { decodeProtectedHeader } from 'jose';
import { bearer, issuer, tempDir } from '../helpers.ts';
import { listeningApp, verifierFor } from './verify-helpers.ts';
import { internals } from '../../src/core/core-internals.ts';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), readStdin: async () => '' };
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid!;

describe('signing-key rotation', () => {
  test('tokens signed before, during and after a rotation verify in the SDK, with no restart of either side', async () => {
    const t = await listeningApp();
    const v = verifierFor(t);
    try {
      await v.ready();
      const core = t.app.tokenstile;
      const before = await t.signUp();
      const oldKid = kidOf(before.accessToken);
      await v.verify(before.accessToken);

      const rotated = await core.rotateKeys({ publishAheadMs: 60_000 });
      assert.equal(rotated.previousKid, oldKid);
      const published = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys.map((k: { kid: string }) => k.kid);
      assert.deepEqual(new Set(published), new Set([oldKid, rotated.kid]), 'the next key is published before it signs');
      const during = await t.signUp();
      assert.equal(kidOf(during.accessToken), oldKid, 'the outgoing key signs until the publish-ahead delay has passed');

      t.clock.advance(61_000);
      internals(t.app.tokenstile).tick();
      await core.reloadKeys();
      const after = await t.signUp();
      assert.equal(kidOf(after.accessToken), rotated.kid, 'the new key signs after the delay');
      for (const s of [before, during, after]) {
        assert.equal((await v.verify(s.accessToken)).sid, s.session.id);
        assert.equal((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(s.accessToken) })).statusCode, 200);
      }
      const states = Object.fromEntries((await core.listKeys()).map((k) => [k.kid, k.state]));
      assert.deepEqual(states, { [oldKid]: 'published', [rotated.kid]: 'signing' });

      // Once every token of the old key has expired, it leaves the JWKS.
      t.clock.advance(core.config.keyPublishMs);
      await core.reloadKeys();
      const keys = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys;
      assert.deepEqual(keys.map((k: { kid: string }) => k.kid), [rotated.kid]);
      assert.equal((await core.audit({ limit: 50 })).some((e) => e.type === 'key_rotated' && e.detail.kid === rotated.kid && e.detail.previousKid === oldKid), true);
    } finally {
      v.close();
      await t.close();
    }
  });

  test('tokenstile keys rotate on the database of a running server is picked up without a restart', async () => {
    const dir = tempDir();
    const databaseUrl = `sqlite:${dir.path}/keys.db`;
    const t = await listeningApp({ databaseUrl });
    try {
      const env = { TOKENSTILE_DATABASE_URL: databaseUrl, TOKENSTILE_ISSUER: issuer };
      const io = capture();
      assert.equal(await runCli(['keys', 'rotate', '--publish-ahead', '0s', '--json'], io, env), 0, io.stderr.join('\n'));
      const { kid } = JSON.parse(io.stdout[0]!);
      assert.match(io.stderr.join('\n'), /warning: --publish-ahead under/);
      t.clock.advance(11_000);
      internals(t.app.tokenstile).tick();
      await t.app.tokenstile.reloadKeys();
      const s = await t.signUp();
      assert.equal(kidOf(s.accessToken), kid);
      const list = capture();
      assert.equal(await runCli(['keys', 'list'], list, env), 0);
      assert.match(list.stdout.join('\n'), new RegExp(`${kid}\\s+ES256\\s+signing`));
      assert.match(list.stdout.join('\n'), /published/);
    } finally {
      await t.close();
      dir.cleanup();
    }
  });
});
