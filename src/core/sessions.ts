import { issueAccessToken } from './access-tokens.ts';
import type { AuthInfo } from './auth-info.ts';
import { originOf, publicUser, type CoreContext, type DeviceInfo, type IssuedTokens } from './context.ts';
import { fail, ok, type Result } from './errors.ts';
import { isUuidv7, uuidv7, uuidv7Time } from './ids.ts';
import { clientTag, hashesEqual, hashRefreshSecret, openGraceBox, sealSuccessor, type RefreshTokenParts } from './refresh-tokens.ts';
import type { SessionRecord } from './session-store.ts';
import type { UserRecord } from './user-store.ts';
import { checkAmr } from './amr.ts';


export type LogoutScope = 'local' | 'global' | 'others';

/** A session as shown to its owner. Times as ISO 8601. */
export interface SessionView {
  readonly id: string;
  readonly createdAt: string;
  readonly lastUsedAt: string;
  readonly expiresAt: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly current: boolean;
}

const maxDeviceField = 512;

function clip(value: string | null | undefined): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, maxDeviceField) : null;
}

/**
 * Until when a session started at `startedAt` lives after a sign-in or refresh at `now`, in ms:
 * the refresh TTL from now (sliding), but never past the absolute lifetime from its start.
 */
function sessionExpiry(ctx: CoreContext, startedAt: number, now: number): number {
  return Math.min(now + ctx.config.refreshTtlMs, startedAt + ctx.config.sessionMaxLifetimeMs);
}

/** When an access token issued at `now` expires, in ms (its `exp` is never later). */
function accessExpiry(ctx: CoreContext, now: number): number {
  return now + Math.max(1, Math.round(ctx.config.accessTtlMs / 1000)) * 1000;
}

/**
 * The opaque access handle that goes with `refreshToken` (derived from it, so a grace retry gets
 * the same one) and the hash the session row keeps; null in JWT format.
 */
function opaqueHandle(ctx: CoreContext, sessionId: string, userId: string, refreshToken: string): { token: string; hash: string } | null {
  return ctx.opaque === null ? null : ctx.opaque.mint(sessionId, userId, refreshToken);
}

/**
 * The tokens to hand out. A JWT is minted as of `now`, the instant whose expiry the store
 * recorded in `accessExpiresAt`, so a revocation always outlives it; an opaque handle is the one
 * whose hash the store recorded.
 */
function tokens(
  ctx: CoreContext,
  now: number,
  user: UserRecord,
  session: { readonly id: string; readonly amr: readonly string[]; readonly authTime: number; readonly dpopJkt: string | null },
  refreshToken: string,
  refreshExpiresAt: number,
  handle: { token: string } | null,
): IssuedTokens {
  const sessionId = session.id;
  let accessToken: string;
  let expiresIn: number;
  if (handle !== null) {
    accessToken = handle.token;
    expiresIn = Math.max(1, Math.round(ctx.config.accessTtlMs / 1000));
  } else {
    const subject = { userId: user.id, sessionId, amr: session.amr, authTime: session.authTime, emailVerified: user.emailVerifiedAt !== null, jkt: session.dpopJkt };
    const access = issueAccessToken(ctx.keyring, ctx.config, { now: () => now }, subject, ctx.random);
    accessToken = access.token;
    expiresIn = access.claims.exp - access.claims.iat;
  }
  return {
    tokenType: session.dpopJkt === null ? 'Bearer' : 'DPoP',
    accessToken,
    expiresIn,
    refreshToken,
    refreshExpiresIn: Math.max(0, Math.floor((refreshExpiresAt - now) / 1000)),
    session: { id: sessionId },
    user: publicUser(user),
  };
}

/**
 * Starts a session for `user`, who authenticated by `amr` (RFC 8176 values, checked by the
 * caller), on a device and hands out its first tokens. Null when the user's credentials changed
 * (the stamp moved) or the account was disabled since `user` was read.
 */
export async function startSession(ctx: CoreContext, user: UserRecord, amr: readonly string[], device: DeviceInfo): Promise<IssuedTokens | null> {
  const now = ctx.clock.now();
  const id = uuidv7(now, ctx.random);
  const refresh = ctx.codec.mint(id, 0);
  const handle = opaqueHandle(ctx, id, user.id, refresh.token);
  const expiresAt = sessionExpiry(ctx, now, now);
  const dpopJkt = device.dpopJkt ?? null;
  const created = await ctx.stores.sessions.create({
    id,
    userId: user.id,
    createdAt: now,
    lastUsedAt: now,
    expiresAt,
    accessExpiresAt: accessExpiry(ctx, now),
    revokedAt: null,
    userAgent: clip(device.userAgent),
    ip: clip(device.ip),
    generation: 0,
    refreshHash: refresh.hash,
    previousHash: null,
    rotatedAt: null,
    graceBox: null,
    accessHash: handle?.hash ?? null,
    amr,
    authTime: now,
    dpopJkt,
  }, user.credentialStamp);
  return created ? tokens(ctx, now, user, { id, amr, authTime: now, dpopJkt }, refresh.token, expiresAt, handle) : null;
}

/** What the host app tells `startSessionFor` about a user it signed in itself. */
export interface SessionStart {
  /** The user's id (see `createUser`, `findUser`). */
  readonly userId: string;
  /** How the user authenticated, as RFC 8176 values (see `amrValues`): `['fed']`, `['hwk']`, `['pwd', 'otp', 'mfa']`… */
  readonly amr: readonly string[];
  /** The device, as for `login`; kept on the session and in the audit trail. */
  readonly device?: DeviceInfo;
}

/**
 * Starts a session for a user the host app authenticated itself, with the same tokens, refresh,
 * logout and revocation as a password sign-in. `invalid_request` (field `amr`) for values that
 * are not RFC 8176's, `not_found` for no such user, `account_disabled` for a disabled one, and
 * `invalid_credentials` when the user's credentials changed while the session was being started.
 */
export async function startSessionFor(
  ctx: CoreContext,
  input: SessionStart,
): Promise<Result<IssuedTokens, 'invalid_request' | 'not_found' | 'account_disabled' | 'invalid_credentials'>> {
  const amr = checkAmr(input.amr);
  if (!amr.ok) return amr;
  const user = typeof input.userId === 'string' && isUuidv7(input.userId) ? await ctx.stores.users.byId(input.userId) : null;
  if (!user) return fail('not_found');
  if (user.disabledAt !== null) return fail('account_disabled');
  const device = input.device ?? {};
  const issued = await startSession(ctx, user, amr.value, device);
  if (!issued) return fail('invalid_credentials');
  ctx.emit({ type: 'session_started', userId: user.id, sessionId: issued.session.id, amr: amr.value.join(' '), ...originOf(device) });
  return ok(issued);
}

function isLive(s: SessionRecord, now: number): boolean {
  return s.revokedAt === null && s.expiresAt > now;
}

/**
 * Rotates a refresh token: the presented one is spent and a successor minted, atomically. A retry
 * with the just-spent token inside the grace window gets the same successor; any other spent
 * token revokes the whole session (theft detection).
 */
export async function refresh(
  ctx: CoreContext,
  presented: unknown,
  device: DeviceInfo = {},
): Promise<Result<IssuedTokens, 'invalid_refresh_token' | 'refresh_token_reused' | 'too_many_requests' | 'invalid_dpop_proof'>> {
  const limited = await ctx.limits.check('refreshPerIp', device.ip, ctx.clock.now());
  if (!limited.ok) {
    ctx.emit({ type: 'rate_limited', rule: 'refreshPerIp' });
    ctx.emit({ type: 'refresh_failed', reason: 'too_many_requests' });
    return limited;
  }
  const result = await rotate(ctx, presented, device);
  if (result.ok) ctx.emit({ type: 'refreshed', sessionId: result.value.session.id });
  else if (result.code === 'invalid_refresh_token') ctx.emit({ type: 'refresh_failed', reason: result.code });
  return result;
}

async function rotate(ctx: CoreContext, presented: unknown, device: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_refresh_token' | 'refresh_token_reused' | 'invalid_dpop_proof'>> {
  const parts = ctx.codec.parse(presented);
  if (!parts) return fail('invalid_refresh_token');
  const { sessions, users } = ctx.stores;
  const hash = hashRefreshSecret(parts.secret);
  const rotated = await rotateSession(ctx, parts, hash, device);
  if (rotated) return ok(rotated);
  // Not rotated: read the session to tell a grace retry (another request spent the token first),
  // a replay and an invalid token apart. A current token that was not rotated (past the absolute
  // lifetime, a disabled user) is an invalid one: there is no other way to rotate.
  const session = await sessions.get(parts.sessionId);
  const now = ctx.clock.now();
  if (!session || !isLive(session, now)) return fail('invalid_refresh_token');
  const user = await users.byId(session.userId);
  if (!user || user.disabledAt !== null) return fail('invalid_refresh_token');
  // A bound session's token without a proof by its key: refused before anything else, spending
  // and revoking nothing (the token is useless without the key, so this is no theft signal).
  if (session.dpopJkt != null && session.dpopJkt !== (device.dpopJkt ?? null)) {
    ctx.emit({ type: 'refresh_failed', reason: 'invalid_dpop_proof' });
    return { ok: false, code: 'invalid_dpop_proof', reason: 'this refresh token is bound to a DPoP key: send a proof signed by it' };
  }
  return spentToken(ctx, user, session, parts, hash, now, device);
}

/**
 * The one refresh step, in one store statement: rotates the session if the presented token is its
 * current one, and issues the successor's tokens; null when the store rotated nothing. The
 * successor is minted and sealed before the store is asked, and the store compares the hash; only
 * a token whose MAC we checked gets this far, so that compare reveals nothing to a forger.
 */
async function rotateSession(ctx: CoreContext, parts: RefreshTokenParts, hash: string, device: DeviceInfo): Promise<IssuedTokens | null> {
  const now = ctx.clock.now();
  // A session's id is a UUIDv7 minted at the instant of its sign-in (its createdAt, as every
  // release has made them), and the MAC checked on the token proves we issued it, so its start
  // is known without reading the row.
  const expiresAt = sessionExpiry(ctx, uuidv7Time(parts.sessionId), now);
  // Past the absolute lifetime: no successor.
  if (!(expiresAt > now)) return null;
  const next = ctx.codec.mint(parts.sessionId, parts.generation + 1);
  const rotated = await ctx.stores.sessions.rotate(
    parts.sessionId,
    parts.generation,
    hash,
    {
      generation: parts.generation + 1,
      refreshHash: next.hash,
      previousHash: hash,
      rotatedAt: now,
      graceBox: sealSuccessor(parts.secret, parts.sessionId, next.token, ctx.random, clientTag(device.userAgent)),
      expiresAt,
      accessExpiresAt: accessExpiry(ctx, now),
      // The handle's hash does not depend on the user, which this statement is what reads.
      accessHash: ctx.opaque?.hashFor(next.token) ?? null,
      dpopJkt: device.dpopJkt ?? null,
    },
    now,
  );
  if (!rotated) return null;
  const { user, amr, authTime, dpopJkt } = rotated;
  // What was cached for the session under its old token is dropped with it.
  await ctx.dropCache(user.id, parts.sessionId);
  return tokens(ctx, now, user, { id: parts.sessionId, amr, authTime, dpopJkt: dpopJkt ?? null }, next.token, expiresAt, opaqueHandle(ctx, parts.sessionId, user.id, next.token));
}

async function spentToken(
  ctx: CoreContext,
  user: UserRecord,
  session: SessionRecord,
  parts: RefreshTokenParts,
  hash: string,
  now: number,
  device: DeviceInfo,
): Promise<Result<IssuedTokens, 'invalid_refresh_token' | 'refresh_token_reused'>> {
  if (parts.generation === session.generation - 1 && hashesEqual(session.previousHash, hash)) {
    const inGrace = session.rotatedAt !== null && now - session.rotatedAt <= ctx.config.refreshGraceMs;
    const box = inGrace && session.graceBox !== null ? openGraceBox(parts.secret, session.id, session.graceBox) : null;
    // A retry is the same client asking again (a lost answer, a racing tab): same user agent as
    // the refresh that spent the token. Another client holding the spent token has a copy of it,
    // so it is treated as the replay it is, below. Boxes of older versions name no client.
    const sameClient = box !== null && (box.client === null || box.client === clientTag(device.userAgent));
    if (box !== null && sameClient) {
      // Record the new access token's expiry first; a session revoked meanwhile gets none.
      if (!(await ctx.stores.sessions.extendAccess(session.id, accessExpiry(ctx, now)))) return fail('invalid_refresh_token');
      // Audited with IP and user agent: a replay that looks like a retry still shows in the trail.
      ctx.emit({ type: 'refresh_grace_retry', userId: user.id, sessionId: session.id, ...originOf(device) });
      return ok(tokens(ctx, now, user, { ...session, dpopJkt: session.dpopJkt ?? null }, box.successor, session.expiresAt, opaqueHandle(ctx, session.id, user.id, box.successor)));
    }
    if (box !== null) {
      ctx.emit({ type: 'refresh_reuse_detected', userId: user.id, sessionId: session.id, reason: 'grace_retry_from_another_client', ...originOf(device) });
      await ctx.revoke({ sessionId: session.id }, 'refresh_reuse', originOf(device));
      return fail('refresh_token_reused');
    }
  }
  if (parts.generation < session.generation) {
    // The tag proves we issued this token, and it was spent: someone replayed it.
    ctx.emit({ type: 'refresh_reuse_detected', userId: user.id, sessionId: session.id, ...originOf(device) });
    await ctx.revoke({ sessionId: session.id }, 'refresh_reuse', originOf(device));
    return fail('refresh_token_reused');
  }
  return fail('invalid_refresh_token');
}

/** Ends this session (`local`), every session of the user (`global`), or all but this one (`others`). */
export async function logout(ctx: CoreContext, auth: AuthInfo, scope: LogoutScope, device: DeviceInfo = {}): Promise<void> {
  const origin = originOf(device);
  ctx.emit({ type: 'logged_out', userId: auth.userId, sessionId: auth.sessionId, scope, ...origin });
  if (scope === 'local') await ctx.revoke({ sessionId: auth.sessionId }, 'logout', origin);
  else if (scope === 'global') {
    await ctx.revoke({ userId: auth.userId }, 'logout_global', origin);
    // The user's shared entries go too: signing out everywhere leaves nothing cached behind.
    await ctx.dropCache(auth.userId);
  }
  else await ctx.revoke({ userId: auth.userId, exceptSessionId: auth.sessionId }, 'logout_others', origin);
}

/** A session as its owner sees it; `currentSessionId` marks the caller's own. */
export function toSessionView(s: SessionRecord, currentSessionId: string | null): SessionView {
  return {
    id: s.id,
    createdAt: new Date(s.createdAt).toISOString(),
    lastUsedAt: new Date(s.lastUsedAt).toISOString(),
    expiresAt: new Date(s.expiresAt).toISOString(),
    userAgent: s.userAgent,
    ip: s.ip,
    current: s.id === currentSessionId,
  };
}

/** The caller's live sessions, newest first, the current one marked. */
export async function listSessions(ctx: CoreContext, auth: AuthInfo): Promise<SessionView[]> {
  const live = await ctx.stores.sessions.listLive(auth.userId, ctx.clock.now());
  return live.map((s) => toSessionView(s, auth.sessionId));
}

/** Ends one of the caller's own live sessions; `not_found` for any other id. */
export async function revokeOwnSession(ctx: CoreContext, auth: AuthInfo, sessionId: string, device: DeviceInfo = {}): Promise<Result<void, 'not_found'>> {
  if (!isUuidv7(sessionId)) return fail('not_found');
  const ended = await ctx.revoke({ sessionId, userId: auth.userId }, 'revoked_by_user', originOf(device));
  return ended.length > 0 ? ok(undefined) : fail('not_found');
}
