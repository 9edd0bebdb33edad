import { createHash } from 'node:crypto';
import type { AuthInfo } from '../../core/auth-info.ts';
import { originOf, type DeviceInfo, type IssuedTokens } from '../../core/context.ts';
import { fail, invalid, ok, type Result } from '../../core/errors.ts';
import type { FeatureKit, SignInRefusal } from '../../core/feature.ts';
import { uuidv7 } from '../../core/ids.ts';
import { requireRecentAuth } from '../mfa/step-up.ts';
import type { PasskeyRecord, PasskeyStore } from './passkey-store.ts';
import { challengeOf, checkAssertion, checkRegistration, creationOptions, requestOptions, type RelyingParty } from './webauthn.ts';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';

/** What the owner sees of a passkey. Times as ISO 8601. */
export interface PasskeyView {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

/** The single-use challenges of each ceremony (one-time tokens of these purposes). */
export const passkeyPurposes = { register: 'passkey_register', login: 'passkey_login', mfa: 'passkey_mfa', reauth: 'passkey_reauth' } as const;
type Purpose = (typeof passkeyPurposes)[keyof typeof passkeyPurposes];

/** How long a ceremony's challenge lives: the browser's prompt timeout. */
const challengeTtlMs = 5 * 60_000;
const maxNameLength = 64;

export function passkeyView(p: PasskeyRecord): PasskeyView {
  return { id: p.id, name: p.name, createdAt: new Date(p.createdAt).toISOString(), lastUsedAt: p.lastUsedAt === null ? null : new Date(p.lastUsedAt).toISOString() };
}

/** A name as the user typed it: trimmed, control characters dropped, at most 64 characters; a default when empty. */
function checkName(name: unknown, fallback: string): Result<string, 'invalid_request'> {
  if (name === undefined || name === null) return ok(fallback);
  if (typeof name !== 'string') return invalid('name', 'must be a string');
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if ([...clean].length > maxNameLength) return invalid('name', `must be at most ${maxNameLength} characters`);
  return ok(clean === '' ? fallback : clean);
}

/**
 * Passkeys (WebAuthn): registration by a signed-in user (after a recent sign-in), sign-in without
 * a password, and the assertion check that the second-factor and re-authentication steps share.
 * Every ceremony's challenge is a one-time token: single use, 5 minutes, stored hashed.
 */
export class Passkeys {
  readonly #kit: FeatureKit;
  readonly #store: PasskeyStore;

  constructor(kit: FeatureKit, store: PasskeyStore) {
    this.#kit = kit;
    this.#store = store;
  }

  get store(): PasskeyStore {
    return this.#store;
  }

  async registerOptions(auth: AuthInfo, rp: RelyingParty): Promise<Result<PublicKeyCredentialCreationOptionsJSON, 'reauthentication_required' | 'session_revoked'>> {
    const recent = await requireRecentAuth(this.#kit, auth);
    if (!recent.ok) return recent;
    const user = await this.#kit.stores.users.byId(auth.userId);
    if (!user) return fail('session_revoked');
    const challenge = await this.#kit.oneTimeTokens.issue({ purpose: passkeyPurposes.register, userId: user.id, data: { sessionId: auth.sessionId }, ttlMs: challengeTtlMs });
    return ok(await creationOptions(rp, user, challenge, await this.#store.list(user.id)));
  }

  /** Checks a registration answer and stores the passkey; the user's other sessions end. */
  async register(auth: AuthInfo, input: { credential: unknown; name?: unknown }, rp: RelyingParty, device: DeviceInfo): Promise<Result<PasskeyView, 'invalid_passkey' | 'invalid_request' | 'reauthentication_required'>> {
    const name = checkName(input.name, 'Passkey');
    if (!name.ok) return name;
    const recent = await requireRecentAuth(this.#kit, auth);
    if (!recent.ok) return recent;
    const challenge = challengeOf(input.credential);
    const spent = challenge === null ? null : await this.#kit.oneTimeTokens.consume(passkeyPurposes.register, challenge);
    // Bound to the ceremony: the user and the session that asked for the options.
    if (!spent || spent.userId !== auth.userId || (spent.data as { sessionId?: unknown } | null)?.sessionId !== auth.sessionId || challenge === null) return fail('invalid_passkey');
    const key = await checkRegistration(rp, input.credential, challenge);
    if (!key) return fail('invalid_passkey');
    const now = this.#kit.clock.now();
    const record: PasskeyRecord = { ...key, id: uuidv7(now, this.#kit.random), userId: auth.userId, name: name.value, createdAt: now, lastUsedAt: null };
    if (!(await this.#store.add(record))) return fail('invalid_passkey');
    this.#kit.emit({ type: 'passkeys.added', userId: auth.userId, sessionId: auth.sessionId, passkeyId: record.id, ...originOf(device) });
    await this.#kit.revoke({ userId: auth.userId, exceptSessionId: auth.sessionId }, 'credential_change', originOf(device));
    return ok(passkeyView(record));
  }

  async list(userId: string): Promise<PasskeyView[]> {
    return (await this.#store.list(userId)).map(passkeyView);
  }

  /** Renames one of the caller's passkeys (not a credential change: no step-up, no session ends). */
  async rename(auth: AuthInfo, id: string, name: unknown): Promise<Result<PasskeyView, 'not_found' | 'invalid_request'>> {
    const checked = checkName(name, 'Passkey');
    if (!checked.ok) return checked;
    const renamed = await this.#store.rename(auth.userId, id, checked.value);
    return renamed ? ok(passkeyView(renamed)) : fail('not_found');
  }

  /** Removes one of the caller's passkeys (after a recent sign-in), unless it is their last way to sign in; the other sessions end. */
  async remove(auth: AuthInfo, id: string, device: DeviceInfo): Promise<Result<void, 'not_found' | 'reauthentication_required' | 'last_sign_in_method'>> {
    const recent = await requireRecentAuth(this.#kit, auth);
    if (!recent.ok) return recent;
    const mine = await this.#store.list(auth.userId);
    if (mine.length === 1 && mine[0]!.id === id && (await this.#kit.signInMethods(auth.userId, 'passkeys')) === 0) return fail('last_sign_in_method');
    if (!(await this.#store.remove(auth.userId, id, this.#kit.clock.now()))) return fail('not_found');
    this.#kit.emit({ type: 'passkeys.removed', userId: auth.userId, sessionId: auth.sessionId, passkeyId: id, ...originOf(device) });
    await this.#kit.revoke({ userId: auth.userId, exceptSessionId: auth.sessionId }, 'credential_change', originOf(device));
    return ok(undefined);
  }

  /**
   * Options for a passkey sign-in. Each stores a challenge row, and anyone may ask: limited per
   * client IP by the `loginPerIp` rule (default 100 per 15 minutes), counted apart from password
   * sign-ins, through the core's limits (one count for every instance when they share Redis).
   */
  async loginOptions(rp: RelyingParty, device: DeviceInfo): Promise<Result<PublicKeyCredentialRequestOptionsJSON, 'too_many_requests'>> {
    const limited = await this.#kit.limits.check('loginPerIp', device.ip ? `passkey-options:${device.ip}` : null, this.#kit.clock.now());
    if (!limited.ok) {
      this.#kit.emit({ type: 'rate_limited', rule: 'passkeyLoginPerIp' });
      return limited;
    }
    return ok(await this.requestOptions(rp, passkeyPurposes.login, null, null, 'required'));
  }

  /** Options for a ceremony of `purpose`; for a known user, limited to their passkeys. */
  async requestOptions(rp: RelyingParty, purpose: Purpose, userId: string | null, data?: unknown, userVerification: 'required' | 'preferred' = 'preferred'): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const challenge = await this.#kit.oneTimeTokens.issue({ purpose, userId, data: data ?? null, ttlMs: challengeTtlMs });
    return requestOptions(rp, challenge, userId === null ? [] : await this.#store.list(userId), userVerification);
  }

  /**
   * Checks an assertion made for a challenge of `purpose` (spent here, whatever the outcome): the
   * passkey it names, its signature, origin, rp id and counter; that the user handle, when given
   * (always, for a sign-in that names no user), is its owner's (WebAuthn §7.2 step 6); for a known
   * user, that the passkey is theirs and that the challenge was issued for them; with
   * `userVerified`, that the authenticator verified the user. The passkey and whether the user
   * was verified (PIN, biometrics), or `invalid_passkey`.
   */
  async assert(rp: RelyingParty, credential: unknown, purpose: Purpose, expect: { userId?: string; data?: (data: unknown) => boolean; userVerified?: boolean } = {}): Promise<Result<{ passkey: PasskeyRecord; userVerified: boolean }, 'invalid_passkey'>> {
    const challenge = challengeOf(credential);
    const spent = challenge === null ? null : await this.#kit.oneTimeTokens.consume(purpose, challenge);
    if (!spent || challenge === null) return fail('invalid_passkey');
    if (expect.userId !== undefined && spent.userId !== expect.userId) return fail('invalid_passkey');
    if (expect.data && !expect.data(spent.data)) return fail('invalid_passkey');
    const id = (credential as { id?: unknown }).id;
    const passkey = typeof id === 'string' && id.length <= 1024 ? await this.#store.byCredentialId(id) : null;
    if (!passkey || (expect.userId !== undefined && passkey.userId !== expect.userId)) return fail('invalid_passkey');
    const handle = userHandleOf(credential);
    if (handle === undefined ? expect.userId === undefined : handle !== passkey.userId) return fail('invalid_passkey');
    const checked = await checkAssertion(rp, credential, challenge, passkey, expect.userVerified ?? false);
    if (!checked) return fail('invalid_passkey');
    if (!(await this.#store.used(passkey.id, passkey.counter, checked.counter, this.#kit.clock.now()))) return fail('invalid_passkey');
    return ok({ passkey, userVerified: checked.userVerified });
  }

  /**
   * Sign-in with a passkey and no password: the authenticator must verify the user (PIN,
   * biometrics), so that the sign-in stands for two factors (`amr` hwk + user) as a password and a
   * second factor would; a passkey that only shows presence can still be a second factor. The
   * sign-in gates run as for a password (a verified email when required; the second-factor gate
   * sees two factors): their refusal comes back as `login`'s does.
   */
  async login(rp: RelyingParty, credential: unknown, device: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_passkey'> | SignInRefusal> {
    const asserted = await this.assert(rp, credential, passkeyPurposes.login, { userVerified: true });
    if (!asserted.ok) {
      this.#kit.emit({ type: 'passkeys.login_failed', ...originOf(device) });
      return asserted;
    }
    const user = await this.#kit.stores.users.byId(asserted.value.passkey.userId);
    const amr = ['hwk', 'user'];
    const refused = user && user.disabledAt === null ? await this.#kit.checkSignIn({ user, amr, device }) : null;
    if (refused) {
      this.#kit.emit({ type: 'login_refused', code: refused.code, userId: user!.id, ...originOf(device) });
      return { ok: false, code: refused.code, details: refused.details ?? {} };
    }
    const issued = user && user.disabledAt === null ? await this.#kit.startSession(user, amr, device) : null;
    if (!issued) return fail('invalid_passkey');
    this.#kit.emit({ type: 'passkeys.login', userId: issued.user.id, sessionId: issued.session.id, passkeyId: asserted.value.passkey.id, ...originOf(device) });
    return ok(issued);
  }
}

/**
 * The user handle of an assertion as our user id (registration sets it to the id's UTF-8 bytes);
 * undefined when the answer carries none, null when it carries something else.
 */
function userHandleOf(credential: unknown): string | null | undefined {
  const handle = (credential as { response?: { userHandle?: unknown } }).response?.userHandle;
  if (handle === undefined || handle === null || handle === '') return undefined;
  return typeof handle === 'string' && handle.length <= 512 ? Buffer.from(handle, 'base64url').toString('utf8') : null;
}

/** The SHA-256 of a token, base64url: how pending sign-ins name their mfaToken in challenge data. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
