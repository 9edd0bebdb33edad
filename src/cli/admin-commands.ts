import { isUuidv7 } from '../core/ids.ts';
import { toSessionView } from '../core/sessions.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { UserRecord } from '../core/user-store.ts';

/** Where a command writes, and what it reads; injectable for tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  readStdin(): Promise<string>;
}

/** A failure the user can fix; printed without a stack, exit code 1. */
export class CliError extends Error {}

/** Finds a user by id or email, or fails with a message that says what to give. */
async function findUser(core: Tokenstile, ref: string): Promise<UserRecord> {
  const user = await core.findUser(ref);
  if (!user) throw new CliError(`no user ${JSON.stringify(ref)} (give an email or a user id)`);
  return user;
}

function print(io: CliIo, json: boolean, value: unknown, text: string): void {
  io.out(json ? JSON.stringify(value) : text);
}

/** `users create`: adds an account, the password from stdin (or `--password`). */
export async function usersCreate(core: Tokenstile, io: CliIo, o: { email: string; password?: string; passwordStdin?: boolean; name?: string; json: boolean }): Promise<void> {
  let password = o.password;
  if (o.passwordStdin) password = (await io.readStdin()).replace(/\r?\n$/, '');
  else if (password !== undefined) io.err('warning: --password is visible to other users of this machine; prefer --password-stdin');
  if (password === undefined) throw new CliError('a password is needed: --password-stdin (recommended) or --password');
  const r = await core.register({ email: o.email, password, name: o.name ?? null });
  if (!r.ok) {
    const why = { invalid_request: 'the email or name is not valid', weak_password: 'the password does not meet the policy (8-256 characters, not all of one kind)', email_taken: 'an account with this email already exists', too_many_requests: 'too many registrations; retry later' }[r.code];
    throw new CliError(`cannot create user: ${why}`);
  }
  print(io, o.json, { user: r.value }, `created user ${r.value.id} <${r.value.email}>`);
}

/** `users disable`: blocks sign-in and ends every session. */
export async function usersDisable(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await findUser(core, o.user);
  await core.disableUser(user.id);
  print(io, o.json, { disabled: user.id }, `disabled user ${user.id} <${user.email}>; all of their sessions ended`);
}

/** `sessions list`: the user's live sessions. */
export async function sessionsList(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await findUser(core, o.user);
  const views = (await core.listUserSessions(user.id)).map((s) => {
    const { current: _, ...view } = toSessionView(s, null);
    return view;
  });
  if (o.json) return io.out(JSON.stringify({ user: user.id, sessions: views }));
  if (views.length === 0) return io.out(`no live sessions for ${user.email}`);
  for (const v of views) io.out(`${v.id}  last used ${v.lastUsedAt}  ${v.ip ?? '-'}  ${v.userAgent ?? '-'}`);
}

/** `sessions revoke`: one session by id, or every session of a user. */
export async function sessionsRevoke(core: Tokenstile, io: CliIo, o: { id?: string; user?: string; json: boolean }): Promise<void> {
  if ((o.id === undefined) === (o.user === undefined)) throw new CliError('give exactly one of --id SESSION_ID or --user EMAIL|ID');
  if (o.id !== undefined) {
    if (!isUuidv7(o.id)) throw new CliError(`${JSON.stringify(o.id)} is not a session id`);
    const ended = await core.revoke({ sessionId: o.id });
    if (ended.length === 0) throw new CliError(`no live session ${o.id}`);
    return print(io, o.json, { revoked: [o.id] }, `revoked session ${o.id}`);
  }
  const user = await findUser(core, o.user!);
  await core.revoke({ userId: user.id });
  print(io, o.json, { revokedUser: user.id }, `revoked every session of ${user.email}`);
}

/** `purge`: housekeeping now. */
export async function purge(core: Tokenstile, io: CliIo, o: { json: boolean }): Promise<void> {
  const r = await core.purge();
  print(io, o.json, r, `purged ${r.sessions} expired or ended sessions and ${r.revocations} expired revocation entries`);
}

/** `audit`: the audit trail of a user (or everyone), newest first. */
export async function audit(core: Tokenstile, io: CliIo, o: { user?: string; limit: number; json: boolean }): Promise<void> {
  if (!Number.isInteger(o.limit) || o.limit < 1 || o.limit > 10_000) throw new CliError('--limit must be a whole number from 1 to 10000');
  const user = o.user === undefined ? undefined : await findUser(core, o.user);
  const entries = await core.audit({ userId: user?.id, limit: o.limit });
  if (o.json) {
    for (const e of entries) io.out(JSON.stringify(e));
    return;
  }
  if (entries.length === 0) return io.out(user ? `no audit entries for ${user.email}` : 'no audit entries');
  for (const e of entries) {
    // Values are quoted (JSON), so stored text can neither forge lines nor reach the terminal as control codes.
    const detail = Object.entries(e.detail).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
    const q = (v: string | null) => (v === null ? '-' : JSON.stringify(v));
    io.out(`${new Date(e.at).toISOString()}  ${e.type.padEnd(22)} user=${q(e.userId)} session=${q(e.sessionId)} ip=${q(e.ip)} ${detail}`.trimEnd());
  }
}
