// `tokenstile sessions revoke` and `users disable` (another process, the same database and
// environment as the server): their session-revoked SETs reach the server's receivers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CliIo } from '../../../src/cli/admin-commands.ts';
import { runCli } from '../../../src/cli/main.ts';
import { issuer, tempDir, testApp, uniqueEmail } from '../../helpers.ts';
import { PollReceiver } from './ssf-receivers.ts';
import { clients, createStream, receiver, revokedSessions, type SsfApp } from './ssf-test-kit.ts';

describe('SSF and the CLI', () => {
  const dir = tempDir();
  const databaseUrl = `sqlite:${dir.path}/ssf.db`;
  const env = { TOKENSTILE_DATABASE_URL: databaseUrl, TOKENSTILE_ISSUER: issuer, TOKENSTILE_SSF: 'true' };
  const run = async (args: string[]) => {
    const err: string[] = [];
    const io: CliIo = { out: () => {}, err: (l) => err.push(l), readStdin: async () => '' };
    const code = await runCli(args, io, env);
    assert.equal(code, 0, err.join('\n'));
  };
  let t: SsfApp;
  let rx: PollReceiver;
  before(async () => {
    const app = await testApp({ databaseUrl, clients, sharedSignals: { enabled: true, outboxPollInterval: '50ms' } });
    t = Object.assign(app, { url: await app.app.listen({ host: '127.0.0.1', port: 0 }) });
    const s = await createStream(t, { delivery: { method: 'urn:ietf:rfc:8936' } });
    rx = new PollReceiver(t.url, `${t.url}/ssf/poll/${s.stream_id}`, issuer, receiver.id, receiver);
  });
  after(async () => {
    await t.close();
    dir.cleanup();
  });

  test('sessions revoke and users disable: SETs stored by the CLI, initiated by an admin', async () => {
    const a = await t.signUp(uniqueEmail());
    const b = await t.signUp(uniqueEmail());
    await run(['sessions', 'revoke', '--id', a.session.id]);
    await run(['users', 'disable', '--user', b.user.email]);
    const got = await rx.collect((r) => revokedSessions(r, a.session.id).length > 0 && revokedSessions(r, b.session.id).length > 0);
    assert.equal(revokedSessions(got, a.session.id)[0]!.event.initiating_entity, 'admin');
    assert.equal(revokedSessions(got, b.session.id)[0]!.event.initiating_entity, 'admin');
  });
});
