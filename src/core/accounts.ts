import { checkEmail, checkName, normalizeEmail } from './account-text.ts';
import { cacheTtlMs, readThrough } from './auth-cache.ts';
import { originOf, publicUser, type CoreContext, type DeviceInfo, type IssuedTokens, type PublicUser } from './context.ts';
import { fail, invalid, ok, type Result } from './errors.ts';
import { isUuidv7, uuidv7 } from './ids.ts';
import { meetsPasswordPolicy, normalizePassword } from './password.ts';
import { admitSignIn, signInClient, signInSucceeded } from './sign-in-throttle.ts';
import type { AuthInfo } from './auth-info.ts';
import { startSession } from './sessions.ts';
import type { UserRecord } from './user-store.ts';
import { passwordCredential, type CredentialRecord } from './credential-store.ts';
import { passwordAmr } from './amr.ts';
import type { SignInRefusal } from './feature.ts';

export { maxNameLength, normalizeEmail } from './account-text.ts';

export interface Registration {
  readonly email: string;
  readonly password: string;
  readonly name?: string | null;
}

/** Creates an account; `email_taken` when the (normalized) email exists. */
export async function register(
  ctx: CoreContext,
  input: Registration,
  device: DeviceInfo = {},
): Promise<Result<PublicUser, 'invalid_request' | 'weak_password' | 'email_taken' | 'too_many_requests'>> {
  const limited = await ctx.limits.check('registerPerIp', device.ip, ctx.clock.now());
  if (!limited.ok) {
    ctx.emit({ type: 'rate_limited', rule: 'registerPerIp' });
    return limited;
  }
  const email = checkEmail(input.email);
  if (!email.ok) return invalid('email', email.reason);
  const name = checkName(input.name);
  if (!name.ok) return invalid('name', name.reason);
  if (!meetsPasswordPolicy(input.password)) return fail('weak_password');
  const now = ctx.clock.now();
  const user = newUser(ctx, email.value, name.value, now);
  const password = await passwordRecord(ctx, user.id, input.password, now);
  if (!(await ctx.stores.users.create(user, [password]))) return fail('email_taken');
  ctx.emit({ type: 'registered', userId: user.id, ...originOf(device) });
  return ok(publicUser(user));
}

function newUser(ctx: CoreContext, email: string, name: string | null, now: number): UserRecord {
  return { id: uuidv7(now, ctx.random), email, name, credentialStamp: 0, createdAt: now, updatedAt: now, disabledAt: null, emailVerifiedAt: null };
}

/** The password credential of `userId` for `password` (hashed here; the password is not kept). */
async function passwordRecord(ctx: CoreContext, userId: string, password: string, now: number): Promise<CredentialRecord> {
  const secret = await ctx.hasher.hash(normalizePassword(password));
  return { id: uuidv7(now, ctx.random), userId, kind: passwordCredential, secret, createdAt: now, updatedAt: now };
}

/**
 * The hash to check a password against: the user's password credential, or (no such user, or a
 * user without a password) a hash of a random password, so that every case costs one argon2
 * verification and one credential lookup and none can match.
 */
async function passwordHashOf(ctx: CoreContext, user: UserRecord | null): Promise<{ hash: string; real: boolean }> {
  // An unknown email looks up an id no user has: the same round trip as a known one.
  const [credential] = await ctx.stores.credentials.list(user?.id ?? '', passwordCredential);
  return credential ? { hash: credential.secret, real: true } : { hash: await ctx.dummyHash, real: false };
}

/**
 * Creates an account without a password, for a user the host app signed in itself (OAuth, SSO,
 * a magic link of its own…); pair it with `startSession`. Password sign-in answers
 * `invalid_credentials` for such a user, as for any wrong password. `email_taken` when the
 * (normalized) email exists.
 */
export async function createUser(
  ctx: CoreContext,
  input: { readonly email: string; readonly name?: string | null },
): Promise<Result<PublicUser, 'invalid_request' | 'email_taken'>> {
  const email = checkEmail(input.email);
  if (!email.ok) return invalid('email', email.reason);
  const name = checkName(input.name);
  if (!name.ok) return invalid('name', name.reason);
  const user = newUser(ctx, email.value, name.value, ctx.clock.now());
  if (!(await ctx.stores.users.create(user))) return fail('email_taken');
  ctx.emit({ type: 'user_created', userId: user.id });
  return ok(publicUser(user));
}

/**
 * Checks a password. An unknown email costs the same argon2 verification as a wrong password, and
 * both give `invalid_credentials`, so neither answer nor timing tells which it was. Returns the
 * user found (for the audit trail) and whether the password matched.
 */
async function checkCredentials(ctx: CoreContext, email: string, password: string): Promise<{ user: UserRecord | null; matches: boolean }> {
  const normalized = normalizeEmail(email);
  const user = normalized === null ? null : await ctx.stores.users.byEmail(normalized);
  // The user (and its credential stamp) is read before its password: a change in between moves
  // the stamp, and the session insert, which compares it, writes nothing.
  const { hash, real } = await passwordHashOf(ctx, user);
  const matches = await ctx.hasher.verify(hash, normalizePassword(password));
  return { user, matches: user !== null && real && matches };
}

/** How an account is named in limits and the audit log: the normalized email, or a fixed mark. */
function accountKey(email: string): string {
  // Never the raw text: it may be a password typed in the wrong field, or control characters.
  return normalizeEmail(email) ?? '(not an email)';
}

/**
 * Checks email and password, runs the features' sign-in gates, and starts a session on `device`.
 * A gate's refusal comes back as it is (`SignInRefusal`).
 */
export async function login(
  ctx: CoreContext,
  input: { readonly email: string; readonly password: string },
  device: DeviceInfo,
): Promise<Result<IssuedTokens, 'invalid_credentials' | 'too_many_requests'> | SignInRefusal> {
  // Limits come before the password check, and apply alike to emails that exist and that don't.
  const account = accountKey(input.email);
  const origin = originOf(device);
  const now = ctx.clock.now();
  const refuse = (rule: string, limited: { ok: false; code: 'too_many_requests'; retryAfterMs?: number }) => {
    ctx.emit({ type: 'rate_limited', rule });
    return limited;
  };
  const client = signInClient(ctx, account, device);
  const admitted = await admitSignIn(ctx.limits, account, client, now);
  if (!admitted.ok) return refuse(admitted.rule, admitted);
  const { user, matches } = await checkCredentials(ctx, input.email, input.password);
  // A disabled account answers as a wrong password does, whatever the password (the check above
  // has cost the same): a distinct answer after a correct password would confirm the password,
  // and one for any password would tell which emails have (disabled) accounts. The audit trail
  // alone says it was a correct password on a disabled account.
  if (!user || !matches || user.disabledAt !== null) {
    const reason = user !== null && matches ? 'account_disabled' : 'invalid_credentials';
    ctx.emit({ type: 'login_failed', reason, account, userId: user?.id, ...origin });
    return fail('invalid_credentials');
  }
  // The password was right: that counts for the throttle whatever a gate then says.
  await signInSucceeded(ctx.limits, account, client);
  for (const gate of ctx.signInGates) {
    const refused = await gate({ user, amr: passwordAmr, device });
    if (refused !== null) {
      ctx.emit({ type: 'login_refused', code: refused.code, userId: user.id, ...origin });
      return { ok: false, code: refused.code, details: refused.details ?? {} };
    }
  }
  // Null: the credentials changed or the account was disabled while we were checking it.
  const issued = await startSession(ctx, user, passwordAmr, device);
  if (!issued) {
    ctx.emit({ type: 'login_failed', reason: 'invalid_credentials', account, userId: user.id, ...origin });
    return fail('invalid_credentials');
  }
  ctx.emit({ type: 'login_succeeded', userId: user.id, sessionId: issued.session.id, ...origin });
  return ok(issued);
}

/** Changes the caller's password and ends every other session of theirs. */
export async function changePassword(
  ctx: CoreContext,
  auth: AuthInfo,
  input: { readonly currentPassword: string; readonly newPassword: string },
  device: DeviceInfo = {},
): Promise<Result<void, 'invalid_credentials' | 'weak_password' | 'session_revoked' | 'too_many_requests'>> {
  const user = await ctx.stores.users.byId(auth.userId);
  if (!user) return fail('session_revoked');
  // Wrong current passwords are limited like failed sign-ins (the same limit): a stolen access
  // token must not be an unlimited password oracle. Its own counter: failed sign-ins by anyone else
  // must not block the owner's password change.
  const limited = await ctx.limits.check('loginPerAccount', `password-change:${user.id}`, ctx.clock.now());
  if (!limited.ok) return limited;
  const current = await passwordHashOf(ctx, user);
  if (!(await ctx.hasher.verify(current.hash, normalizePassword(input.currentPassword))) || !current.real) {
    ctx.emit({ type: 'password_change_failed', userId: user.id, sessionId: auth.sessionId, ...originOf(device) });
    return fail('invalid_credentials');
  }
  if (!meetsPasswordPolicy(input.newPassword)) return fail('weak_password');
  const now = ctx.clock.now();
  // Moves the credential stamp: a sign-in checked against the old password cannot start a session.
  const stamp = await ctx.stores.credentials.replace(await passwordRecord(ctx, user.id, input.newPassword, now), now);
  if (stamp === null) return fail('session_revoked');
  ctx.emit({ type: 'password_changed', userId: user.id, sessionId: auth.sessionId, ...originOf(device) });
  await ctx.revoke({ userId: user.id, exceptSessionId: auth.sessionId }, 'password_change', originOf(device));
  await ctx.dropCache(user.id);
  return ok(undefined);
}

/** The caller's account; `session_revoked` once it is disabled. */
export async function profile(ctx: CoreContext, auth: AuthInfo): Promise<Result<PublicUser, 'session_revoked'>> {
  const view = await readThrough(ctx.cache, { userId: auth.userId }, 'profile', cacheTtlMs, async () => {
    const user = await ctx.stores.users.byId(auth.userId);
    return user && user.disabledAt === null ? publicUser(user) : undefined;
  });
  return view === undefined ? fail('session_revoked') : ok(view);
}

/** Changes the caller's display name (trimmed; empty clears it; at most 100 characters; see `checkName`). */
export async function updateProfile(
  ctx: CoreContext,
  auth: AuthInfo,
  input: { readonly name: string | null },
): Promise<Result<PublicUser, 'invalid_request' | 'session_revoked'>> {
  const name = checkName(input.name);
  if (!name.ok) return invalid('name', name.reason);
  const user = await ctx.stores.users.update(auth.userId, { name: name.value }, ctx.clock.now());
  if (!user) return fail('session_revoked');
  await ctx.dropCache(user.id);
  return ok(publicUser(user));
}

/** Disables an account and ends all its sessions (administrative). */
export async function disableUser(ctx: CoreContext, userId: string): Promise<Result<void, 'not_found'>> {
  const user = await ctx.stores.users.update(userId, { disabledAt: ctx.clock.now() }, ctx.clock.now());
  if (!user) return fail('not_found');
  ctx.emit({ type: 'user_disabled', userId });
  await ctx.revoke({ userId }, 'user_disabled');
  await ctx.dropCache(userId);
  return ok(undefined);
}

/** A user by id or by (not yet normalized) email; null when there is none. */
export async function findUser(ctx: CoreContext, ref: string): Promise<UserRecord | null> {
  if (isUuidv7(ref)) return ctx.stores.users.byId(ref);
  const email = normalizeEmail(ref);
  return email === null ? null : ctx.stores.users.byEmail(email);
}
