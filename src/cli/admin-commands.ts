import { clientSecretHash, newClient, type ClientCredentials } from '../core/clients.ts';
import { parseDuration } from '../core/duration.ts';
import { isUuidv7 } from '../core/ids.ts';
import { defaultPublishAheadMs, jwksMaxAgeSeconds, keyReloadIntervalMs } from '../core/key-rotation.ts';
import { toSessionView } from '../core/sessions.ts';
import type { Tokenstile } from '../core/tokenstile.ts';
import type { UserRecord } from '../core/user-store.ts';
import { escaped, jsonLine, quoted } from './terminal-text.ts';
import { internals } from '../core/core-internals.ts';

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

/**
 * Waits one store lease after a revocation: running servers trust their in-memory list only while
 * a poll of the store has completed within that span, so afterwards every one of them refuses the
 * ended sessions' tokens. The CLI has no feed to confirm through (docs/scaling.md). Then one
 * revocation lease more: the longest an acknowledging verifier may still trust a list an instance
 * vouched for before its poll (docs/verify.md).
 */
export async function settle(core: Tokenstile): Promise<void> {
  // One store lease for the servers, one verifier lease for their acknowledging verifiers, and 2 %
  // more for clock-rate differences between this host and theirs.
  await new Promise((resolve) => setTimeout(resolve, Math.ceil((core.config.storeLeaseMs + core.config.revocationLeaseMs) * 1.02)));
}

function print(io: CliIo, json: boolean, value: unknown, text: string): void {
  io.out(json ? jsonLine(value) : text);
}

/**
 * `users create`: adds an account, the password from stdin (or `--password`), or with
 * `--no-password` one without a password (sessions only through the host app's `startSession`).
 */
export async function usersCreate(core: Tokenstile, io: CliIo, o: { email: string; password?: string; passwordStdin?: boolean; noPassword?: boolean; name?: string; json: boolean }): Promise<void> {
  if (o.noPassword) {
    if (o.password !== undefined || o.passwordStdin) throw new CliError('give either a password (--password-stdin, --password) or --no-password, not both');
    const r = await core.createUser({ email: o.email, name: o.name ?? null });
    if (!r.ok) throw new CliError(`cannot create user: ${r.code === 'email_taken' ? 'an account with this email already exists' : `${r.field ?? 'input'} ${r.reason ?? 'is not valid'}`}`);
    return print(io, o.json, { user: r.value }, `created user ${r.value.id} <${escaped(r.value.email)}> without a password`);
  }
  let password = o.password;
  if (o.passwordStdin) password = (await io.readStdin()).replace(/\r?\n$/, '');
  else if (password !== undefined) io.err('warning: --password is visible to other users of this machine; prefer --password-stdin');
  if (password === undefined) throw new CliError('a password is needed: --password-stdin (recommended) or --password (or --no-password for an account without one)');
  const r = await core.register({ email: o.email, password, name: o.name ?? null });
  if (!r.ok) {
    const why = { invalid_request: 'the email or name is not valid', weak_password: 'the password does not meet the policy (8-256 characters, not all of one kind)', email_taken: 'an account with this email already exists', too_many_requests: 'too many registrations; retry later' }[r.code];
    throw new CliError(`cannot create user: ${r.code === 'invalid_request' && r.field !== undefined ? `${r.field} ${r.reason}` : why}`);
  }
  print(io, o.json, { user: r.value }, `created user ${r.value.id} <${escaped(r.value.email)}>`);
}

/** `users disable`: blocks sign-in and ends every session. */
export async function usersDisable(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await findUser(core, o.user);
  await core.disableUser(user.id);
  await settle(core);
  print(io, o.json, { disabled: user.id }, `disabled user ${user.id} <${escaped(user.email)}>; all of their sessions ended`);
}

/** `sessions list`: the user's live sessions. */
export async function sessionsList(core: Tokenstile, io: CliIo, o: { user: string; json: boolean }): Promise<void> {
  const user = await findUser(core, o.user);
  const views = (await core.listUserSessions(user.id)).map((s) => {
    const { current: _, ...view } = toSessionView(s, null);
    return view;
  });
  if (o.json) return io.out(jsonLine({ user: user.id, sessions: views }));
  if (views.length === 0) return io.out(`no live sessions for ${escaped(user.email)}`);
  // The user agent and IP come from the client: quoted and escaped, they cannot forge lines or drive the terminal.
  for (const v of views) io.out(`${v.id}  last used ${v.lastUsedAt}  ${v.ip === null ? '-' : quoted(v.ip)}  ${v.userAgent === null ? '-' : quoted(v.userAgent)}`);
}

/** `sessions revoke`: one session by id, or every session of a user. */
export async function sessionsRevoke(core: Tokenstile, io: CliIo, o: { id?: string; user?: string; json: boolean }): Promise<void> {
  if ((o.id === undefined) === (o.user === undefined)) throw new CliError('give exactly one of --id SESSION_ID or --user EMAIL|ID');
  if (o.id !== undefined) {
    if (!isUuidv7(o.id)) throw new CliError(`${JSON.stringify(o.id)} is not a session id`);
    const ended = await core.revoke({ sessionId: o.id });
    if (ended.length === 0) throw new CliError(`no live session ${o.id}`);
    await settle(core);
    return print(io, o.json, { revoked: [o.id] }, `revoked session ${o.id}`);
  }
  const user = await findUser(core, o.user!);
  await core.revoke({ userId: user.id });
  await settle(core);
  print(io, o.json, { revokedUser: user.id }, `revoked every session of ${escaped(user.email)}`);
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
    for (const e of entries) io.out(jsonLine(e));
    return;
  }
  if (entries.length === 0) return io.out(user ? `no audit entries for ${escaped(user.email)}` : 'no audit entries');
  for (const e of entries) {
    // Values are quoted and escaped (C0, DEL, C1, bidi), so stored text can neither forge lines nor reach the terminal as control codes.
    const detail = Object.entries(e.detail).map(([k, v]) => `${escaped(k)}=${quoted(v)}`).join(' ');
    const q = (v: string | null) => (v === null ? '-' : quoted(v));
    io.out(`${new Date(e.at).toISOString()}  ${e.type.padEnd(22)} user=${q(e.userId)} session=${q(e.sessionId)} ip=${q(e.ip)} ${detail}`.trimEnd());
  }
}

/** `keys list`: the signing keys and their state. */
export async function keysList(core: Tokenstile, io: CliIo, o: { json: boolean }): Promise<void> {
  const keys = await core.listKeys();
  if (o.json) return io.out(JSON.stringify({ keys }));
  const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());
  for (const k of keys) {
    io.out(`${k.kid}  ${k.alg.padEnd(5)} ${k.state.padEnd(9)} created ${when(k.createdAt)}  retires ${when(k.retiredAt)}  published until ${k.state === 'signing' || k.state === 'next' ? '-' : when(k.publishedUntil)}`);
  }
}

/**
 * `keys rotate`: publish the next key now; it signs after the publish-ahead delay. Refused while a
 * rotation is pending, unless `force` (which replaces the pending key).
 */
export async function keysRotate(core: Tokenstile, io: CliIo, o: { publishAhead?: string; force?: boolean; json: boolean }): Promise<void> {
  let aheadMs = defaultPublishAheadMs;
  if (o.publishAhead !== undefined) {
    try {
      aheadMs = parseDuration(o.publishAhead, '--publish-ahead') * 1000;
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  const safeMs = jwksMaxAgeSeconds * 1000 + keyReloadIntervalMs;
  if (aheadMs < safeMs) {
    io.err(`warning: --publish-ahead under ${safeMs / 1000}s: verifiers that cache the JWKS for its full ${jwksMaxAgeSeconds}s, and server instances that have not reloaded their keys yet (every ${keyReloadIntervalMs / 1000}s), may see tokens of the new key before the key itself (tokenstile/verify refetches on an unknown kid and is not affected)`);
  }
  const r = await core.rotateKeys({ publishAheadMs: aheadMs, force: o.force === true });
  const replaced = r.replaced.length > 0 ? `; removed the pending key ${r.replaced.join(', ')}, which had not signed` : '';
  print(io, o.json, r, `published key ${r.kid}; it signs from ${new Date(r.signsFrom).toISOString()}${r.previousKid ? `, when ${r.previousKid} retires (it stays published until its tokens have expired)` : ''}${replaced}`);
}

/** `keys revoke KID`: a compromised key is unpublished at once and the sessions it may have served end. */
export async function keysRevoke(core: Tokenstile, io: CliIo, o: { kid: string; json: boolean }): Promise<void> {
  const r = await core.revokeKey(o.kid);
  if (r.sessionsEnded > 0) await settle(core);
  const when = (ms: number) => new Date(ms).toISOString();
  const sessions = r.signed
    ? `ended ${r.sessionsEnded} sessions signed in or refreshed between ${when(r.signed.from)} and ${when(r.signed.until)}`
    : 'it never signed: no session ended';
  print(io, o.json, r, `revoked key ${escaped(r.kid)}: no longer published, ${r.signingKid} signs; ${sessions}. Running servers refuse those sessions' tokens now, and every token of the key within 10 s.`);
}

/**
 * `keys reseal`: seals under TOKENSTILE_KEY_ENCRYPTION_KEY every private key and secret still
 * stored in plaintext (written before the setting was made). Nothing else changes: tokens issued
 * before stay valid.
 */
export async function keysReseal(core: Tokenstile, io: CliIo, o: { json: boolean }): Promise<void> {
  const r = await core.resealKeys();
  const what = [...r.keys.map((kid) => `key ${kid}`), ...r.secrets.map((name) => `secret ${name}`)];
  print(io, o.json, r, what.length === 0 ? 'nothing stored in plaintext: every key and secret is sealed' : `sealed ${what.join(', ')}`);
}

/** The client store, or a message saying this backend has none. */
function clientStore(core: Tokenstile) {
  const store = internals(core).stores.clients;
  if (!store) throw new CliError('this database has no client store; use TOKENSTILE_CLIENTS (tokenstile clients create --env-entry)');
  return store;
}

/**
 * `clients create`: a new client with a random 256-bit secret, printed once. Stored in the database
 * (only its hash; running servers accept it at once), or with `--env-entry` printed as a
 * `TOKENSTILE_CLIENTS` entry instead.
 */
export async function clientsCreate(core: Tokenstile | null, io: CliIo, o: { id: string; envEntry: boolean; configured: readonly ClientCredentials[]; json: boolean }): Promise<void> {
  let made: ReturnType<typeof newClient>;
  try {
    made = newClient(o.id);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (o.configured.some((c) => c.id === o.id)) throw new CliError(`client ${o.id} is already in TOKENSTILE_CLIENTS`);
  if (!o.envEntry) {
    const added = await clientStore(core!).addClient({ id: made.id, secretHash: clientSecretHash(made.secret), createdAt: Date.now() });
    if (!added) throw new CliError(`client ${o.id} exists already (tokenstile clients remove --id ${o.id} first)`);
  }
  if (o.json) return io.out(JSON.stringify({ clientId: made.id, clientSecret: made.secret, ...(o.envEntry ? { entry: made.entry } : { stored: true }) }));
  io.out(`client_id:     ${made.id}`);
  io.out(`client_secret: ${made.secret}`);
  if (o.envEntry) {
    io.out('Give both to the resource server (the secret is shown once). Add this to the auth servers\' TOKENSTILE_CLIENTS (comma-separated):');
    io.out(made.entry);
  } else {
    io.out('Stored (its hash only); running servers accept it at once. Give both to the resource server: the secret is shown once.');
  }
}

/** `clients list`: stored clients and those in TOKENSTILE_CLIENTS. */
export async function clientsList(core: Tokenstile, io: CliIo, o: { configured: readonly ClientCredentials[]; json: boolean }): Promise<void> {
  const stored = (await internals(core).stores.clients?.listClients()) ?? [];
  const rows = [
    ...o.configured.map((c) => ({ id: c.id, source: 'TOKENSTILE_CLIENTS', hashed: c.secret.startsWith('sha256.'), createdAt: null as string | null })),
    ...stored.map((c) => ({ id: c.id, source: 'database', hashed: true, createdAt: new Date(c.createdAt).toISOString() })),
  ];
  if (o.json) return io.out(JSON.stringify({ clients: rows }));
  if (rows.length === 0) return io.out('no clients (tokenstile clients create --id NAME)');
  for (const r of rows) {
    io.out(`${r.id}  ${r.source}${r.createdAt ? `  created ${r.createdAt}` : ''}${r.hashed ? '' : '  (plain secret in the environment: prefer a hashed entry)'}`);
  }
}

/** `clients remove`: deletes a stored client; servers refuse it, and end its streams, within 10 s. */
export async function clientsRemove(core: Tokenstile, io: CliIo, o: { id: string; configured: readonly ClientCredentials[]; json: boolean }): Promise<void> {
  if (!(await clientStore(core).removeClient(o.id))) {
    throw new CliError(o.configured.some((c) => c.id === o.id) ? `client ${o.id} is in TOKENSTILE_CLIENTS: remove it there` : `no stored client ${o.id}`);
  }
  print(io, o.json, { removed: o.id }, `removed client ${o.id}; servers refuse it within 10 s`);
}

/**
 * `sessions list` without `--user`: one page of every live session, newest first, with the
 * account's email; says how to get the next page when there is one.
 */
export async function sessionsListAll(core: Tokenstile, io: CliIo, o: { limit: number; after?: string; json: boolean }): Promise<void> {
  const found = await core.listLiveSessions(o.after === undefined ? { limit: o.limit + 1 } : { limit: o.limit + 1, before: o.after });
  const page = found.slice(0, o.limit);
  const next = found.length > o.limit ? page.at(-1)!.id : null;
  const emails = new Map<string, string | null>();
  for (const s of page) if (!emails.has(s.userId)) emails.set(s.userId, (await core.findUser(s.userId))?.email ?? null);
  const views = page.map((s) => {
    const { current: _, ...view } = toSessionView(s, null);
    return { ...view, user: s.userId, email: emails.get(s.userId) ?? null };
  });
  if (o.json) return io.out(jsonLine({ sessions: views, next }));
  if (views.length === 0) return io.out(o.after === undefined ? 'no live sessions' : `no live sessions after ${o.after}`);
  // What clients sent is quoted and escaped: it cannot forge lines or drive the terminal.
  const q = (v: string | null) => (v === null ? '-' : quoted(v));
  for (const v of views) io.out(`${v.id}  ${q(v.email ?? v.user)}  last used ${v.lastUsedAt}  ${q(v.ip)}  ${q(v.userAgent)}`);
  if (next !== null) io.out(`more: tokenstile sessions list --after ${next}${o.limit === defaultSessionPage ? '' : ` --limit ${o.limit}`}`);
}

/** How many sessions `sessions list` shows per page without `--limit`. */
export const defaultSessionPage = 50;
