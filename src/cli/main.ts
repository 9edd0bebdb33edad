import { parseArgs } from 'node:util';
import { parseClients } from '../core/clients.ts';
import { TokenstileError } from '../core/errors.ts';
import { createTokenstile, type Tokenstile } from '../core/tokenstile.ts';
import { openStores, redactUrl } from '../stores/open-stores.ts';
import * as admin from './admin-commands.ts';
import { CliError, type CliIo } from './admin-commands.ts';
import { envHelp, serverConfigFromEnv } from './env-config.ts';
import { closeOnSignals, startServer } from './serve.ts';

const help: Record<string, string> = {
  main: `Usage: tokenstile <command> [options]

Commands:
  serve                         start the HTTP server (what \`npm start\` runs)
  migrate                       apply pending database migrations
  users create|disable          manage accounts
  sessions list|revoke          see and end sessions
  purge                         delete expired sessions and revocation entries
  audit                         logins, logouts, revocations, password changes, key events
  keys list|rotate|revoke|reseal  see the signing keys; rotate them without downtime; revoke
                                a compromised one; seal them
  clients create|list|remove    resource-server clients for /oauth/* and /revocations/stream

Run \`tokenstile <command> --help\` for a command's options.

${envHelp}`,
  serve: `Usage: tokenstile serve

Starts the server on HOST:PORT with the configuration from the environment.
SIGINT/SIGTERM close it gracefully.

${envHelp}`,
  migrate: `Usage: tokenstile migrate [--json]

Applies pending schema migrations to TOKENSTILE_DATABASE_URL and prints their names.
(The server also migrates on start.)`,
  users: `Usage:
  tokenstile users create --email EMAIL (--password-stdin | --password PASSWORD) [--name NAME] [--json]
  tokenstile users disable --user EMAIL|ID [--json]

create    adds an account; --password-stdin reads the password from standard input
disable   blocks sign-in and ends every session of the account at once`,
  sessions: `Usage:
  tokenstile sessions list --user EMAIL|ID [--json]
  tokenstile sessions revoke (--id SESSION_ID | --user EMAIL|ID) [--json]

list      the user's live sessions (devices)
revoke    ends one session, or all of a user's; their access tokens are refused at once
          (a running server picks the revocation up within a second)`,
  audit: `Usage: tokenstile audit [--user EMAIL|ID] [--limit N] [--json]

The audit trail, newest first (default 50 entries): sign-ins (and failures, with the account and
IP), registrations, logouts with their scope, revoked sessions with the cause, refresh-token reuse,
password changes, disabled accounts, generated keys. Never a token or password.
--json prints one JSON object per line.`,
  keys: `Usage:
  tokenstile keys list [--json]
  tokenstile keys rotate [--publish-ahead DURATION] [--force] [--json]
  tokenstile keys revoke KID [--json]
  tokenstile keys reseal [--json]

list      every stored signing key: signing, next (published, not yet signing), published
          (retired, kept in the JWKS until its tokens have expired) or expired
rotate    publishes a new key now; it signs after --publish-ahead (default 10m, which must exceed
          the JWKS cache lifetime of 5m plus the 10s key reload of running servers). The current
          key signs until then and stays published until every token it signed has expired.
          Running servers pick the change up within 10 s; no restart. While a rotation is
          pending (a key published, not yet signing), it refuses: --force replaces the pending
          key, which has not signed, and the new one signs after --publish-ahead.
revoke    for a compromised key: removes it at once (a new key signs in its place if it was
          signing, without publish-ahead) and ends every session that signed in or refreshed
          while it signed. Running servers refuse those sessions' tokens within a second, and
          every token of the key once they reload their keys (within 10 s).
reseal    seals under TOKENSTILE_KEY_ENCRYPTION_KEY every private key and secret written before
          it was set, in place (tokens issued before stay valid). Set the variable on every
          server first: from then on they refuse to start without it.`,
  clients: `Usage:
  tokenstile clients create --id CLIENT_ID [--env-entry] [--json]
  tokenstile clients list [--json]
  tokenstile clients remove --id CLIENT_ID [--json]

Clients are the resource servers allowed on /oauth/introspect, /oauth/revoke and
/revocations/stream.
create    makes a client with a random secret, printed once; stores it in the database (only the
          secret's SHA-256), where running servers find it at once. With --env-entry, stores
          nothing and prints a TOKENSTILE_CLIENTS entry (id:sha256.HASH) instead
list      stored clients and those in TOKENSTILE_CLIENTS
remove    deletes a stored client; servers refuse it, and close its revocation streams, within 10 s`,
  purge: `Usage: tokenstile purge [--json]

Deletes expired sessions, sessions ended long enough ago that none of their tokens can still be
valid, and expired revocation entries. The server also does this on its own, hourly.`,
};

const options = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  email: { type: 'string' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  name: { type: 'string' },
  user: { type: 'string' },
  id: { type: 'string' },
  limit: { type: 'string' },
  'publish-ahead': { type: 'string' },
  force: { type: 'boolean' },
  'env-entry': { type: 'boolean' },
} as const;

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  async readStdin() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

class UsageError extends Error {}

async function withCore<T>(env: NodeJS.ProcessEnv, fn: (core: Tokenstile) => Promise<T>): Promise<T> {
  const config = serverConfigFromEnv(env);
  const stores = await openStores(config.databaseUrl);
  try {
    const core = await createTokenstile({ ...config.app, stores });
    try {
      return await fn(core);
    } finally {
      await core.close();
    }
  } finally {
    await stores.close();
  }
}

/**
 * Runs one CLI invocation and returns its exit code: 0 done, 1 failed, 2 wrong usage.
 * `serve` resolves once the server listens and leaves it running.
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    const [command, sub] = positionals;
    const topic = command !== undefined && command in help ? command : 'main';
    if (values.help || command === undefined || command === 'help') {
      io.out(help[command === 'help' && sub !== undefined && sub in help ? sub : topic] ?? help.main!);
      return command === undefined && !values.help ? 2 : 0;
    }
    const json = values.json === true;
    const need = (name: 'email' | 'user'): string => {
      const v = values[name];
      if (v === undefined) throw new UsageError(`missing --${name}`);
      return v;
    };
    const noMore = (allowed: number) => {
      if (positionals.length > allowed) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[allowed])}`);
    };
    switch (command) {
      case 'serve': {
        noMore(1);
        const { app } = await startServer(serverConfigFromEnv(env));
        closeOnSignals(app);
        return 0;
      }
      case 'migrate': {
        noMore(1);
        const config = serverConfigFromEnv(env);
        const stores = await openStores(config.databaseUrl, { migrate: false });
        try {
          const applied = await stores.migrate();
          io.out(json ? JSON.stringify({ applied }) : `${redactUrl(config.databaseUrl)}: ${applied.length === 0 ? 'up to date' : `applied ${applied.join(', ')}`}`);
        } finally {
          await stores.close();
        }
        return 0;
      }
      case 'users':
        noMore(2);
        if (sub === 'create') {
          const o = { email: need('email'), password: values.password, passwordStdin: values['password-stdin'], name: values.name, json };
          await withCore(env, (core) => admin.usersCreate(core, io, o));
        } else if (sub === 'disable') {
          const o = { user: need('user'), json };
          await withCore(env, (core) => admin.usersDisable(core, io, o));
        } else throw new UsageError(`unknown users command ${JSON.stringify(sub ?? '')}; expected create or disable`);
        return 0;
      case 'sessions':
        noMore(2);
        if (sub === 'list') {
          const o = { user: need('user'), json };
          await withCore(env, (core) => admin.sessionsList(core, io, o));
        } else if (sub === 'revoke') {
          await withCore(env, (core) => admin.sessionsRevoke(core, io, { id: values.id, user: values.user, json }));
        } else throw new UsageError(`unknown sessions command ${JSON.stringify(sub ?? '')}; expected list or revoke`);
        return 0;
      case 'audit': {
        noMore(1);
        const limit = values.limit === undefined ? 50 : Number(values.limit);
        await withCore(env, (core) => admin.audit(core, io, { user: values.user, limit, json }));
        return 0;
      }
      case 'keys':
        noMore(sub === 'revoke' ? 3 : 2);
        if (sub === 'list') await withCore(env, (core) => admin.keysList(core, io, { json }));
        else if (sub === 'rotate') await withCore(env, (core) => admin.keysRotate(core, io, { publishAhead: values['publish-ahead'], force: values.force === true, json }));
        else if (sub === 'revoke') {
          const kid = positionals[2];
          if (kid === undefined) throw new UsageError('missing the KID to revoke (tokenstile keys list shows them)');
          await withCore(env, (core) => admin.keysRevoke(core, io, { kid, json }));
        }
        else if (sub === 'reseal') await withCore(env, (core) => admin.keysReseal(core, io, { json }));
        else throw new UsageError(`unknown keys command ${JSON.stringify(sub ?? '')}; expected list, rotate, revoke or reseal`);
        return 0;
      case 'clients': {
        noMore(2);
        const configured = parseClients(serverConfigFromEnv(env).app.clients as string | undefined ?? '');
        const id = () => {
          if (values.id === undefined) throw new UsageError('missing --id');
          return values.id;
        };
        if (sub === 'create') {
          const o = { id: id(), envEntry: values['env-entry'] === true, configured, json };
          if (o.envEntry) await admin.clientsCreate(null, io, o);
          else await withCore(env, (core) => admin.clientsCreate(core, io, o));
        } else if (sub === 'list') await withCore(env, (core) => admin.clientsList(core, io, { configured, json }));
        else if (sub === 'remove') {
          const o = { id: id(), configured, json };
          await withCore(env, (core) => admin.clientsRemove(core, io, o));
        } else throw new UsageError(`unknown clients command ${JSON.stringify(sub ?? '')}; expected create, list or remove`);
        return 0;
      }
      case 'purge':
        noMore(1);
        await withCore(env, (core) => admin.purge(core, io, { json }));
        return 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`tokenstile: ${(err as Error).message}\nRun \`tokenstile --help\` for usage.`);
      return 2;
    }
    if (err instanceof CliError || err instanceof TokenstileError) {
      io.err(`tokenstile: ${err.message}`);
      return 1;
    }
    io.err(`tokenstile: ${(err as Error)?.message ?? String(err)}`);
    return 1;
  }
}
