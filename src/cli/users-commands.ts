import { featureApi } from '../core/feature.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import { recoveryFeature } from '../features/recovery/recovery-feature.ts';
import { CliError, findUser, settle, type CliIo } from './admin-commands.ts';
import type { CommandSpec } from './cli-help.ts';
import { escaped, jsonLine, quoted } from './terminal-text.ts';

/** The `users` subcommands of account recovery, beside `create` and `disable`. */
export const recoveryUserCommands: Readonly<Record<string, CommandSpec>> = {
  show: {
    usage: 'tokenstile users show --user EMAIL|ID [--json]',
    about: ['the account: email, name, whether the email is verified, when it was made or disabled, its live sessions'],
    options: ['user', 'json'],
  },
  enable: {
    usage: 'tokenstile users enable --user EMAIL|ID [--json]',
    about: ['lets a disabled account sign in again (sessions ended when it was disabled stay ended)'],
    options: ['user', 'json'],
  },
  'set-password': {
    usage: 'tokenstile users set-password --user EMAIL|ID (--password-stdin | --password PASSWORD) [--json]',
    about: [
      "sets the account's password (the same policy as users get) and ends every session of the",
      'account at once, as a password reset does; --password-stdin reads it from standard input',
    ],
    options: ['user', 'password', 'password-stdin', 'json'],
  },
  'verify-email': {
    usage: 'tokenstile users verify-email --user EMAIL|ID [--json]',
    about: ["marks the account's email address as verified"],
    options: ['user', 'json'],
  },
};

function print(io: CliIo, json: boolean, value: unknown, text: string): void {
  io.out(json ? jsonLine(value) : text);
}

/** `users show`. */
export async function usersShow(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await findUser(core, o.user);
  const sessions = (await core.listUserSessions(user.id)).length;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const view = { id: user.id, email: user.email, name: user.name, emailVerified: user.emailVerifiedAt !== null, emailVerifiedAt: iso(user.emailVerifiedAt), createdAt: iso(user.createdAt), disabledAt: iso(user.disabledAt), liveSessions: sessions };
  if (o.json) return io.out(jsonLine({ user: view }));
  io.out(`${view.id} <${escaped(view.email)}>${view.name === null ? '' : ` ${quoted(view.name)}`}`);
  io.out(`email ${view.emailVerified ? `verified ${view.emailVerifiedAt}` : 'not verified'}; created ${view.createdAt}; ${view.disabledAt === null ? 'enabled' : `disabled ${view.disabledAt}`}; ${sessions} live session${sessions === 1 ? '' : 's'}`);
}

/** `users enable`. */
export async function usersEnable(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await findUser(core, o.user);
  const r = await featureApi(core, recoveryFeature).enableUser(user.id);
  if (!r.ok) throw new CliError(`no user ${JSON.stringify(o.user)}`);
  print(io, o.json, { enabled: user.id }, `enabled user ${user.id} <${escaped(user.email)}>`);
}

/** `users set-password`: the password from stdin (or `--password`); every session of the user ends. */
export async function usersSetPassword(core: Tokenstile, io: CliIo, o: { user: string; password?: string | undefined; passwordStdin?: boolean | undefined; json: boolean }): Promise<void> {
  let password = o.password;
  if (o.passwordStdin) password = (await io.readStdin()).replace(/\r?\n$/, '');
  else if (password !== undefined) io.err('warning: --password is visible to other users of this machine; prefer --password-stdin');
  if (password === undefined) throw new CliError('a password is needed: --password-stdin (recommended) or --password');
  const user = await findUser(core, o.user);
  const r = await featureApi(core, recoveryFeature).setPassword(user.id, password);
  if (!r.ok) throw new CliError(r.code === 'weak_password' ? `the password does not meet the policy: ${r.reason ?? 'too weak'}` : `no user ${JSON.stringify(o.user)}`);
  await settle(core);
  print(io, o.json, { passwordSet: user.id }, `set the password of ${escaped(user.email)}; all of their sessions ended`);
}

/** `users verify-email`. */
export async function usersVerifyEmail(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await findUser(core, o.user);
  const r = await featureApi(core, recoveryFeature).verifyEmailOf(user.id);
  if (!r.ok) throw new CliError(`no user ${JSON.stringify(o.user)}`);
  print(io, o.json, { emailVerified: user.id }, `marked the email of ${user.id} <${escaped(user.email)}> as verified`);
}
