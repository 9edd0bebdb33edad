import { envHelp } from './env-config.ts';
import { mailGroup } from './mail-commands.ts';
import { recoveryUserCommands } from './users-commands.ts';

/** The options `runCli` parses; each command accepts the ones its spec lists (and `--help`). */
export const cliOptions = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  json: { type: 'boolean' },
  email: { type: 'string' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'no-password': { type: 'boolean' },
  name: { type: 'string' },
  user: { type: 'string' },
  id: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  'publish-ahead': { type: 'string' },
  force: { type: 'boolean' },
  'env-entry': { type: 'boolean' },
} as const;

/** The name of one of `cliOptions`. */
export type CliOption = keyof typeof cliOptions;

/** One command: how it is called, what it does (lines, unindented), which options it takes. */
export interface CommandSpec {
  readonly usage: string;
  readonly about: readonly string[];
  readonly options: readonly CliOption[];
  /** How many words may follow the command (`keys revoke KID`). Default none. */
  readonly arguments?: number;
}

/** Commands without subcommands. */
export const commands: Readonly<Record<string, CommandSpec>> = {
  serve: {
    usage: 'tokenstile serve',
    about: [
      'Starts the server on HOST:PORT with the configuration from the environment.',
      'SIGINT (Ctrl-C), SIGTERM and SIGHUP close it gracefully: requests in flight finish, new ones',
      'get 503, and the process exits 0.',
      '',
      envHelp,
    ],
    options: [],
  },
  migrate: {
    usage: 'tokenstile migrate [--json]',
    about: ['Applies pending schema migrations to TOKENSTILE_DATABASE_URL and prints their names.', '(The server also migrates on start.)'],
    options: ['json'],
  },
  audit: {
    usage: 'tokenstile audit [--user EMAIL|ID] [--limit N] [--json]',
    about: [
      'The audit trail, newest first (default 50 entries, --limit up to 10000): sign-ins (and',
      'failures, with the account and IP), registrations, logouts with their scope, revoked sessions',
      'with the cause, refresh-token reuse, password changes, disabled accounts, generated keys.',
      'Never a token or password. --json prints one JSON object per line.',
    ],
    options: ['user', 'limit', 'json'],
  },
  purge: {
    usage: 'tokenstile purge [--json]',
    about: [
      'Deletes expired sessions, sessions ended long enough ago that none of their tokens can still be',
      'valid, and expired revocation entries. The server also does this on its own, hourly.',
    ],
    options: ['json'],
  },
};

/** Commands with subcommands, and a line on what the group is for. */
export const groups: Readonly<Record<string, { readonly summary: string; readonly subcommands: Readonly<Record<string, CommandSpec>>; readonly footer?: string }>> = {
  users: {
    summary: 'manage accounts',
    subcommands: {
      create: {
        usage: 'tokenstile users create --email EMAIL (--password-stdin | --password PASSWORD | --no-password) [--name NAME] [--json]',
        about: [
          'adds an account; --password-stdin reads the password from standard input (--password',
          'shows it to other users of the machine); --no-password makes one that password sign-in',
          'refuses, whose sessions your app starts itself (startSession, docs/embedding.md)',
        ],
        options: ['email', 'password', 'password-stdin', 'no-password', 'name', 'json'],
      },
      disable: {
        usage: 'tokenstile users disable --user EMAIL|ID [--json]',
        about: ['blocks sign-in and ends every session of the account at once'],
        options: ['user', 'json'],
      },
      'mfa-reset': {
        usage: 'tokenstile users mfa-reset (USER | --user EMAIL|ID) [--json]',
        about: [
          'for support: removes the authenticator app (TOTP), recovery codes and passkeys of the account',
          'and ends every session; the user signs in with the password alone, then sets them up again.',
          'Audited (mfa.reset).',
        ],
        options: ['user', 'json'],
        arguments: 1,
      },
      ...recoveryUserCommands,
    },
  },
  sessions: {
    summary: 'see and end sessions',
    subcommands: {
      list: {
        usage: 'tokenstile sessions list [--user EMAIL|ID | --limit N --after SESSION_ID] [--json]',
        about: [
          "the user's live sessions (devices); without --user, every live session, newest first,",
          'a page of --limit (default 50, at most 1000) at a time: the last line says how to get the',
          'next page (--after the last id shown); --json gives it as "next"',
        ],
        options: ['user', 'limit', 'after', 'json'],
      },
      revoke: {
        usage: 'tokenstile sessions revoke (--id SESSION_ID | --user EMAIL|ID) [--json]',
        about: ["ends one session, or all of a user's; their access tokens are refused at once", '(a running server picks the revocation up within a second)'],
        options: ['id', 'user', 'json'],
      },
    },
  },
  keys: {
    summary: 'see the signing keys; rotate them without downtime; revoke a compromised one; seal them',
    subcommands: {
      list: {
        usage: 'tokenstile keys list [--json]',
        about: [
          'every stored signing key: signing, next (published, not yet signing), published',
          '(retired, kept in the JWKS until its tokens have expired) or expired',
        ],
        options: ['json'],
      },
      rotate: {
        usage: 'tokenstile keys rotate [--publish-ahead DURATION] [--force] [--json]',
        about: [
          'publishes a new key now; it signs after --publish-ahead (default 10m, which must exceed',
          'the JWKS cache lifetime of 5m plus the 10s key reload of running servers). The current',
          'key signs until then and stays published until every token it signed has expired.',
          'Running servers pick the change up within 10 s; no restart. While a rotation is',
          'pending (a key published, not yet signing), it refuses: --force replaces the pending',
          'key, which has not signed, and the new one signs after --publish-ahead.',
        ],
        options: ['publish-ahead', 'force', 'json'],
      },
      revoke: {
        usage: 'tokenstile keys revoke KID [--json]',
        about: [
          'for a compromised key: removes it at once (a new key signs in its place if it was',
          'signing, without publish-ahead) and ends every session that signed in or refreshed',
          "while it signed. Running servers refuse those sessions' tokens within a second, and",
          'every token of the key once they reload their keys (within 10 s).',
        ],
        options: ['json'],
        arguments: 1,
      },
      reseal: {
        usage: 'tokenstile keys reseal [--json]',
        about: [
          'seals under TOKENSTILE_KEY_ENCRYPTION_KEY every private key and secret written before',
          'it was set, in place (tokens issued before stay valid). Set the variable on every',
          'server first: from then on they refuse to start without it.',
        ],
        options: ['json'],
      },
    },
  },
  mail: mailGroup,
  clients: {
    summary: 'resource-server clients for /oauth/* and /revocations/stream',
    subcommands: {
      create: {
        usage: 'tokenstile clients create --id CLIENT_ID [--env-entry] [--json]',
        about: [
          "makes a client with a random secret, printed once; stores it in the database (only the",
          "secret's SHA-256), where running servers find it at once. With --env-entry, stores",
          'nothing and prints a TOKENSTILE_CLIENTS entry (id:sha256.HASH) instead',
        ],
        options: ['id', 'env-entry', 'json'],
      },
      list: { usage: 'tokenstile clients list [--json]', about: ['stored clients and those in TOKENSTILE_CLIENTS'], options: ['json'] },
      remove: {
        usage: 'tokenstile clients remove --id CLIENT_ID [--json]',
        about: ['deletes a stored client; servers refuse it, and close its revocation streams, within 10 s'],
        options: ['id', 'json'],
      },
    },
    footer: 'Clients are the resource servers allowed on /oauth/introspect, /oauth/revoke and\n/revocations/stream.',
  },
};

/** The order of the tool's help, and the line for each command without subcommands. */
const overview: ReadonlyArray<readonly [string, string?]> = [
  ['serve', 'start the HTTP server (what `npm start` runs)'],
  ['migrate', 'apply pending database migrations'],
  ['users'],
  ['sessions'],
  ['purge', 'delete expired sessions and revocation entries'],
  ['audit', 'logins, logouts, revocations, password changes, key events'],
  ['keys'],
  ['clients'],
  ['mail'],
];

function mainHelp(): string {
  const rows = overview.map(([name, line]): [string, string] => {
    const group = groups[name];
    return group ? [`${name} ${Object.keys(group.subcommands).join('|')}`, group.summary] : [name, line ?? ''];
  });
  return `Usage: tokenstile <command> [options]

Commands:
${rows.map(([c, s]) => `  ${c.padEnd(30)}${s}`).join('\n')}

Run \`tokenstile <command> --help\` for a command's options; \`tokenstile --version\` for the version.
Exit codes: 0 done, 1 failed, 2 wrong usage.

${envHelp}`;
}

function groupHelp(name: string): string {
  const g = groups[name]!;
  const subs = Object.entries(g.subcommands);
  const about = subs.map(([sub, spec]) => spec.about.map((line, i) => `${i === 0 ? sub.padEnd(10) : ' '.repeat(10)}${line}`.trimEnd()).join('\n'));
  return `Usage:\n${subs.map(([, spec]) => `  ${spec.usage}`).join('\n')}\n\n${g.footer === undefined ? '' : `${g.footer}\n`}${about.join('\n')}\n\nRun \`tokenstile ${name} <command> --help\` for one command.`;
}

function commandHelp(spec: CommandSpec): string {
  return `Usage: ${spec.usage}\n\n${spec.about.join('\n').replace(/^[a-z]/, (c) => c.toUpperCase())}`;
}

/**
 * The help text for `tokenstile [command [subcommand]] --help`: the tool's, a group's, or one
 * command's. Null when the words name no command.
 */
export function helpFor(command?: string, sub?: string): string | null {
  if (command === undefined) return mainHelp();
  const single = commands[command];
  if (single) return commandHelp(single);
  const group = groups[command];
  if (!group) return null;
  if (sub === undefined) return groupHelp(command);
  const spec = group.subcommands[sub];
  return spec ? commandHelp(spec) : null;
}

/** The spec of `command [sub]`, or null. */
export function specOf(command: string, sub: string | undefined): CommandSpec | null {
  return commands[command] ?? (sub === undefined ? null : (groups[command]?.subcommands[sub] ?? null));
}
