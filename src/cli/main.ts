import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseClients } from '../core/clients.ts';
import { parseDuration } from '../core/duration.ts';
import { TokenstileError } from '../core/errors.ts';
import { isUuidv7 } from '../core/ids.ts';
import { createTokenstile, type Tokenstile } from '../core/tokenstile.ts';
import { featureMigrations } from '../core/feature.ts';
import { coreFeatures } from '../features/feature-entry.ts';
import { features as builtInFeatures } from '../features/index.ts';
import { redactUrl } from '../stores/open-stores.ts';
import * as admin from './admin-commands.ts';
import * as mail from './mail-commands.ts';
import * as users from './users-commands.ts';
import { CliError, type CliIo } from './admin-commands.ts';
import { cliOptions, commands, groups, helpFor, specOf, type CliOption } from './cli-help.ts';
import { openConfiguredStores, serverConfigFromEnv } from './env-config.ts';
import { closeOnSignals, startServer } from './serve.ts';
import { usersMfaReset } from './mfa-commands.ts';

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  async readStdin() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

async function withCore<T>(env: NodeJS.ProcessEnv, io: CliIo, fn: (core: Tokenstile) => Promise<T>): Promise<T> {
  const config = serverConfigFromEnv(env);
  const stores = await openConfiguredStores(config, { warn: (message) => io.err(`tokenstile: warning: ${message}`) });
  try {
    const core = await createTokenstile({ ...config.app, stores, features: coreFeatures(builtInFeatures) });
    try {
      return await fn(core);
    } finally {
      await core.close();
    }
  } finally {
    await stores.close();
  }
}

/** A mistake in how the command was called: exit code 2, with the command's help named. */
class UsageError extends Error {}

/** Reads `--limit`: a whole number from 1 to `max`, or `fallback` when absent. */
function limitOf(text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new UsageError(`--limit must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

/** The help to point a usage error at: the deepest command the leading words name. */
function hintFor(argv: readonly string[]): string {
  const words = argv.filter((w) => !w.startsWith('-'));
  if (words[0] === 'help') words.shift();
  const [command, sub] = words;
  if (command !== undefined && commands[command]) return `tokenstile ${command} --help`;
  const group = command === undefined ? undefined : groups[command];
  if (group === undefined) return 'tokenstile --help';
  return sub !== undefined && group.subcommands[sub] ? `tokenstile ${command} ${sub} --help` : `tokenstile ${command} --help`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Runs one CLI invocation and returns its exit code: 0 done, 1 failed, 2 wrong usage (an unknown
 * command or option, a missing or malformed argument; a bare command group prints its help).
 * `serve` resolves once the server listens and leaves it running.
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let helpHint = hintFor(argv);
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: cliOptions, allowPositionals: true, strict: true });
    let [command, sub] = positionals;
    if (command === 'help') [command, sub] = positionals.slice(1);
    if (values.version && command === undefined) {
      io.out(version());
      return 0;
    }
    if (command !== undefined && (commands[command] ?? groups[command]) === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    const text = helpFor(command, sub);
    if (text === null) throw new UsageError(`unknown ${command} command ${JSON.stringify(sub)}; expected ${Object.keys(groups[command!]?.subcommands ?? {}).join(', ')}`);
    if (values.help || positionals[0] === 'help') {
      io.out(text);
      return 0;
    }
    if (command === undefined || (groups[command] !== undefined && sub === undefined)) {
      // A bare `tokenstile` or `tokenstile sessions`: what could follow, as wrong usage.
      io.err(text);
      return 2;
    }
    const spec = specOf(command, sub)!;
    const words = commands[command] ? 1 : 2;
    const allowed = words + (spec.arguments ?? 0);
    if (positionals.length > allowed) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[allowed])}`);
    const name = words === 1 ? command : `${command} ${sub}`;
    for (const given of Object.keys(values) as CliOption[]) {
      if (given !== 'help' && !spec.options.includes(given)) throw new UsageError(`--${given} is not an option of ${name}`);
    }
    const json = values.json === true;
    const need = (option: 'email' | 'user' | 'id'): string => {
      const v = values[option];
      if (v === undefined) throw new UsageError(`missing --${option}`);
      return v;
    };
    switch (name) {
      case 'serve': {
        const { app } = await startServer(serverConfigFromEnv(env));
        closeOnSignals(app);
        return 0;
      }
      case 'migrate': {
        const config = serverConfigFromEnv(env);
        const stores = await openConfiguredStores(config, { migrate: false, warn: (message) => io.err(`tokenstile: warning: ${message}`) });
        try {
          // The core's migrations, then the built-in features' (src/features/index.ts).
          const applied = await stores.migrate(featureMigrations(coreFeatures(builtInFeatures), stores.database.dialect));
          io.out(json ? JSON.stringify({ applied }) : `${redactUrl(config.databaseUrl)}: ${applied.length === 0 ? 'up to date' : `applied ${applied.join(', ')}`}`);
        } finally {
          await stores.close();
        }
        return 0;
      }
      case 'users create': {
        const o = { email: need('email'), password: values.password, passwordStdin: values['password-stdin'], noPassword: values['no-password'], name: values.name, json };
        const given = [o.password !== undefined, o.passwordStdin === true, o.noPassword === true].filter(Boolean).length;
        if (given !== 1) throw new UsageError('give exactly one of --password-stdin (recommended) or --password (or --no-password for an account without one)');
        await withCore(env, io, (core) => admin.usersCreate(core, io, o));
        return 0;
      }
      case 'users disable': {
        const o = { user: need('user'), json };
        await withCore(env, io, (core) => admin.usersDisable(core, io, o));
        return 0;
      }
      case 'users mfa-reset': {
        const o = { user: positionals[2] ?? need('user'), json };
        await withCore(env, io, (core) => usersMfaReset(core, io, o));
        return 0;
      }
      case 'users show':
      case 'users enable':
      case 'users set-password':
      case 'users verify-email': {
        const o = { user: need('user'), password: values.password, passwordStdin: values['password-stdin'], json };
        const run = { show: users.usersShow, enable: users.usersEnable, 'set-password': users.usersSetPassword, 'verify-email': users.usersVerifyEmail }[sub as 'show'];
        await withCore(env, io, (core) => run(core, io, o));
        return 0;
      }
      case 'sessions list': {
        if (values.user !== undefined) {
          if (values.limit !== undefined || values.after !== undefined) throw new UsageError("--limit and --after page the list of every session; a user's list is not paged");
          const o = { user: values.user, json };
          await withCore(env, io, (core) => admin.sessionsList(core, io, o));
          return 0;
        }
        if (values.after !== undefined && !isUuidv7(values.after)) throw new UsageError(`--after must be a session id, got ${JSON.stringify(values.after)}`);
        const o = { limit: limitOf(values.limit, admin.defaultSessionPage, 1000), after: values.after, json };
        await withCore(env, io, (core) => admin.sessionsListAll(core, io, o));
        return 0;
      }
      case 'sessions revoke': {
        if ((values.id === undefined) === (values.user === undefined)) throw new UsageError('give exactly one of --id SESSION_ID or --user EMAIL|ID');
        if (values.id !== undefined && !isUuidv7(values.id)) throw new UsageError(`--id must be a session id, got ${JSON.stringify(values.id)}`);
        await withCore(env, io, (core) => admin.sessionsRevoke(core, io, { id: values.id, user: values.user, json }));
        return 0;
      }
      case 'audit': {
        const limit = limitOf(values.limit, 50, 10_000);
        await withCore(env, io, (core) => admin.audit(core, io, { user: values.user, limit, json }));
        return 0;
      }
      case 'keys list':
        await withCore(env, io, (core) => admin.keysList(core, io, { json }));
        return 0;
      case 'keys rotate': {
        const publishAhead = values['publish-ahead'];
        if (publishAhead !== undefined) {
          try {
            parseDuration(publishAhead, '--publish-ahead');
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
        }
        await withCore(env, io, (core) => admin.keysRotate(core, io, { publishAhead, force: values.force === true, json }));
        return 0;
      }
      case 'keys revoke': {
        const kid = positionals[2];
        if (kid === undefined) throw new UsageError('missing the KID to revoke (tokenstile keys list shows them)');
        await withCore(env, io, (core) => admin.keysRevoke(core, io, { kid, json }));
        return 0;
      }
      case 'keys reseal':
        await withCore(env, io, (core) => admin.keysReseal(core, io, { json }));
        return 0;
      case 'clients create':
      case 'clients list':
      case 'clients remove': {
        const configured = parseClients((serverConfigFromEnv(env).app.clients as string | undefined) ?? '');
        if (sub === 'create') {
          const o = { id: need('id'), envEntry: values['env-entry'] === true, configured, json };
          if (o.envEntry) await admin.clientsCreate(null, io, o);
          else await withCore(env, io, (core) => admin.clientsCreate(core, io, o));
        } else if (sub === 'list') await withCore(env, io, (core) => admin.clientsList(core, io, { configured, json }));
        else {
          const o = { id: need('id'), configured, json };
          await withCore(env, io, (core) => admin.clientsRemove(core, io, o));
        }
        return 0;
      }
      case 'purge':
        await withCore(env, io, (core) => admin.purge(core, io, { json }));
        return 0;
      case 'mail list':
      case 'mail show': {
        const o = { limit: limitOf(values.limit, mail.defaultMailPage, 1000), after: values.after, id: positionals[2], json };
        if (sub === 'show' && o.id === undefined) throw new UsageError('missing the MAIL_ID to show (tokenstile mail list shows them)');
        await withCore(env, io, (core) => (sub === 'list' ? mail.mailList(core, io, o) : mail.mailShow(core, io, { id: o.id!, json })));
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`tokenstile: ${(err as Error).message}\nRun \`${helpHint}\` for usage.`);
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
