import { isMultiFactor } from '../../core/amr.ts';
import type { AuthInfo } from '../../core/auth-info.ts';
import { originOf, type DeviceInfo, type IssuedTokens } from '../../core/context.ts';
import { fail, invalid, ok, type Result } from '../../core/errors.ts';
import type { FeatureKit, SignInCarry } from '../../core/feature.ts';
import type { UserRecord } from '../../core/user-store.ts';
import { passkeyPurposes, tokenHash, type Passkeys } from '../passkeys/passkey-service.ts';
import type { RelyingParty } from '../passkeys/webauthn.ts';
import type { MfaChallenge, MfaStore } from './mfa-store.ts';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes.ts';
import type { SecretBox } from './secret-box.ts';
import { requireRecentAuth } from './step-up.ts';
import { matchTotp, newTotpSecret, totpUri } from './totp.ts';

/** A second factor a user can complete a sign-in with. */
export type MfaMethod = 'totp' | 'recovery_code' | 'passkey';

/** What `POST /auth/mfa/totp/setup` answers: shown once, to put in an authenticator app. */
export interface TotpSetup {
  readonly secret: string;
  readonly uri: string;
  /** The URI as a QR code: a `data:image/png;base64,…` URL. */
  readonly qrCode: string;
}

export interface MfaStatus {
  readonly totp: boolean;
  readonly recoveryCodesLeft: number;
  readonly passkeys: number;
  readonly methods: readonly MfaMethod[];
}

/** The second step of a sign-in: the mfaToken and one method's proof. */
export interface MfaVerification {
  readonly mfaToken: string;
  readonly method: MfaMethod;
  readonly code?: string;
  /** For `passkey`: the WebAuthn assertion (as `@simplewebauthn/browser`'s `startAuthentication` answers). */
  readonly credential?: unknown;
}

/** Limits of the second step. */
export const mfaLimits = {
  /** How long an mfaToken lives. */
  tokenTtlMs: 5 * 60_000,
  /** Wrong codes an mfaToken survives; the next wrong one kills it. */
  attemptsPerToken: 5,
  /** Wrong codes per user (all mfaTokens, sign-in and step-up) within the window, before 429. */
  failuresPerUser: 10,
  failureWindowMs: 15 * 60_000,
  /** How long a TOTP set-up may wait for its confirming code; after that, set up again. */
  setupTtlMs: 10 * 60_000,
} as const;

/** The second factors a user can sign in with, in the order `mfa_required` lists them. */
function methodsOf(totp: boolean, passkeys: number): MfaMethod[] {
  return [...(totp ? (['totp', 'recovery_code'] as const) : []), ...(passkeys > 0 ? (['passkey'] as const) : [])];
}

const secretLabel = (userId: string) => `totp:${userId}`;

/**
 * TOTP with recovery codes, the second step of sign-in (`mfa_required` → `verify`), and the
 * second factors' part of re-authentication. Turning a factor on or off, and using a recovery
 * code, ends the user's other sessions (through the kit's acknowledged `revoke`).
 */
/** A verification's input, checked before any attempt is counted: the field its method needs. */
function shapeOf(input: Omit<MfaVerification, 'mfaToken'>): Result<void, 'invalid_request'> {
  if (input.method === 'passkey') return input.credential === undefined ? invalid('credential', 'is required with method "passkey"') : ok(undefined);
  return typeof input.code === 'string' ? ok(undefined) : invalid('code', `is required with method "${input.method}"`);
}

export class Mfa {
  readonly #kit: FeatureKit;
  readonly #store: MfaStore;
  readonly #passkeys: Passkeys;
  readonly #box: SecretBox;

  constructor(kit: FeatureKit, store: MfaStore, passkeys: Passkeys, box: SecretBox) {
    this.#kit = kit;
    this.#store = store;
    this.#passkeys = passkeys;
    this.#box = box;
  }

  get store(): MfaStore {
    return this.#store;
  }

  async status(userId: string): Promise<MfaStatus> {
    const [{ totp, passkeys }, recoveryCodesLeft] = await Promise.all([this.#store.factors(userId), this.#store.codesLeft(userId)]);
    return { totp, recoveryCodesLeft, passkeys, methods: methodsOf(totp, passkeys) };
  }

  /**
   * The sign-in gate: for a user with a second factor, no session yet but a pending sign-in
   * (`mfaToken`, 5 minutes, single use) bound to the user, the credential stamp the password was
   * checked against, and the first factor's `amr`. A sign-in whose `amr` already shows two
   * factors (`isMultiFactor`: a passkey with user verification) is not asked again. The attempt's
   * `carry` is kept with it and handed back when `verify` starts the session.
   */
  async gate(user: UserRecord, amr: readonly string[], carry?: SignInCarry): Promise<null | { code: 'mfa_required'; details: { mfaToken: string; methods: readonly MfaMethod[] } }> {
    if (isMultiFactor(amr)) return null;
    const { totp, passkeys } = await this.#store.factors(user.id);
    const methods = methodsOf(totp, passkeys);
    if (methods.length === 0) return null;
    const mfaToken = `tsm_${this.#kit.random(32).toString('base64url')}`;
    const challenge: MfaChallenge = { userId: user.id, credentialStamp: user.credentialStamp, amr, attempts: 0, expiresAt: this.#kit.clock.now() + mfaLimits.tokenTtlMs, carry: carry ?? null };
    await this.#store.addChallenge(tokenHash(mfaToken), challenge);
    return { code: 'mfa_required', details: { mfaToken, methods } };
  }

  /** Starts TOTP set-up (after a recent sign-in): a new secret, pending until confirmed with a code. */
  async setupTotp(auth: AuthInfo): Promise<Result<TotpSetup, 'reauthentication_required' | 'mfa_already_enabled' | 'session_revoked'>> {
    const recent = await requireRecentAuth(this.#kit, auth);
    if (!recent.ok) return recent;
    const user = await this.#kit.stores.users.byId(auth.userId);
    if (!user) return fail('session_revoked');
    const secret = await newTotpSecret(this.#kit.random);
    if (!(await this.#store.putPending(user.id, this.#box.seal(secret, secretLabel(user.id)), this.#kit.clock.now()))) return fail('mfa_already_enabled');
    const uri = await totpUri(secret, new URL(this.#kit.config.issuer).host, user.email);
    // Loaded on first use: importing the package loads no dependency.
    const { default: QRCode } = await import('qrcode');
    return ok({ secret, uri, qrCode: await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 240 }) });
  }

  /** Confirms the pending secret with a code from the app: TOTP is on, and the ten recovery codes are shown once. */
  async confirmTotp(auth: AuthInfo, code: string, device: DeviceInfo): Promise<Result<{ recoveryCodes: string[] }, 'invalid_code' | 'too_many_requests' | 'reauthentication_required' | 'not_found'>> {
    const recent = await requireRecentAuth(this.#kit, auth);
    if (!recent.ok) return recent;
    const now = this.#kit.clock.now();
    const pending = await this.#store.totp(auth.userId);
    // An abandoned set-up does not wait for a code for ever: its secret was shown, then left.
    if (!pending || pending.confirmedAt !== null || now - pending.createdAt > mfaLimits.setupTtlMs) return fail('not_found');
    const attempt = await this.attempt(auth.userId);
    if (!attempt.ok) return attempt;
    const step = await matchTotp(this.#box.open(pending.secret, secretLabel(auth.userId)), code, now, null);
    if (step === null) return this.#failed(auth.userId, 'totp', device);
    await this.#store.releaseAttempt(attempt.value);
    const codes = newRecoveryCodes(this.#kit.random);
    if (!(await this.#store.confirm(auth.userId, pending.createdAt, step, codes.map((c) => hashRecoveryCode(auth.userId, c)!), now))) return fail('invalid_code');
    this.#kit.emit({ type: 'mfa.enabled', userId: auth.userId, sessionId: auth.sessionId, method: 'totp', ...originOf(device) });
    await this.#kit.revoke({ userId: auth.userId, exceptSessionId: auth.sessionId }, 'credential_change', originOf(device));
    return ok({ recoveryCodes: codes });
  }

  /** Turns TOTP off (after a recent sign-in) and deletes the recovery codes; the other sessions end. */
  async removeTotp(auth: AuthInfo, device: DeviceInfo): Promise<Result<void, 'not_found' | 'reauthentication_required'>> {
    const recent = await requireRecentAuth(this.#kit, auth);
    if (!recent.ok) return recent;
    if (!(await this.#store.remove(auth.userId, this.#kit.clock.now()))) return fail('not_found');
    this.#kit.emit({ type: 'mfa.disabled', userId: auth.userId, sessionId: auth.sessionId, method: 'totp', ...originOf(device) });
    await this.#kit.revoke({ userId: auth.userId, exceptSessionId: auth.sessionId }, 'credential_change', originOf(device));
    return ok(undefined);
  }

  /** New recovery codes (after a recent sign-in); the old ones stop working. */
  async renewRecoveryCodes(auth: AuthInfo, device: DeviceInfo): Promise<Result<{ recoveryCodes: string[] }, 'not_found' | 'reauthentication_required'>> {
    const recent = await requireRecentAuth(this.#kit, auth);
    if (!recent.ok) return recent;
    const codes = newRecoveryCodes(this.#kit.random);
    if (!(await this.#store.replaceCodes(auth.userId, codes.map((c) => hashRecoveryCode(auth.userId, c)!), this.#kit.clock.now()))) return fail('not_found');
    this.#kit.emit({ type: 'mfa.recovery_codes_renewed', userId: auth.userId, sessionId: auth.sessionId, ...originOf(device) });
    return ok({ recoveryCodes: codes });
  }

  /** Passkey options for the second step of the sign-in of `mfaToken` (its user's passkeys only). */
  async passkeyOptions(rp: RelyingParty, mfaToken: string) {
    const hash = tokenHash(mfaToken);
    const challenge = await this.#store.challenge(hash, this.#kit.clock.now(), mfaLimits.attemptsPerToken);
    if (!challenge) return fail('invalid_code');
    return ok(await this.#passkeys.requestOptions(rp, passkeyPurposes.mfa, challenge.userId, { mfa: hash }));
  }

  /**
   * Completes a sign-in that answered `mfa_required`. A wrong code does not spend the mfaToken but
   * counts against it (5) and against the user (10 per 15 minutes); a right one spends it and
   * starts the session, unless the user's credentials changed since the password was checked.
   * Both counts are taken before the answer is checked, so racing tries cannot outrun them.
   */
  async verify(input: MfaVerification, rp: RelyingParty, device: DeviceInfo): Promise<Result<IssuedTokens, 'invalid_code' | 'too_many_requests' | 'invalid_request'>> {
    const shaped = shapeOf(input);
    if (!shaped.ok) return shaped;
    const hash = tokenHash(input.mfaToken);
    const now = this.#kit.clock.now();
    const challenge = await this.#store.challenge(hash, now, mfaLimits.attemptsPerToken);
    if (!challenge) return fail('invalid_code');
    const attempt = await this.attempt(challenge.userId);
    if (!attempt.ok) return attempt;
    if (!(await this.#store.takeAttempt(hash, now, mfaLimits.attemptsPerToken))) {
      await this.#store.releaseAttempt(attempt.value);
      return fail('invalid_code');
    }
    const proved = await this.#prove(challenge.userId, input, rp, { mfa: hash }, passkeyPurposes.mfa);
    if (!proved.ok) return this.#failed(challenge.userId, input.method, device);
    await this.#store.releaseAttempt(attempt.value);
    if (!(await this.#store.spendChallenge(hash, now))) return fail('invalid_code');
    const user = await this.#kit.stores.users.byId(challenge.userId);
    const amr = [...new Set([...challenge.amr, ...proved.value, 'mfa'])];
    // The stamp the password was checked against: a credential change since then starts nothing.
    const issued = user && user.disabledAt === null ? await this.#kit.startSession({ ...user, credentialStamp: challenge.credentialStamp }, amr, device) : null;
    if (!issued) return fail('invalid_code');
    // Before the answer: the sign-in's feature records what it must of the session (its provider origin).
    await this.#kit.heldSignInStarted(challenge.carry, { tokens: issued, amr, device });
    this.#kit.emit({ type: 'mfa.succeeded', userId: user!.id, sessionId: issued.session.id, method: input.method, ...originOf(device) });
    if (input.method === 'recovery_code') await this.#recoveryCodeUsed(user!.id, issued.session.id, device);
    return ok(issued);
  }

  /**
   * Re-authentication by a second factor (the step-up of `/auth/reauthenticate`): the `amr` it
   * adds, or the failure. Counts against the user's limit like the sign-in step.
   */
  async reauthenticate(auth: AuthInfo, input: Omit<MfaVerification, 'mfaToken'>, rp: RelyingParty, device: DeviceInfo): Promise<Result<readonly string[], 'invalid_code' | 'too_many_requests' | 'invalid_request'>> {
    const shaped = shapeOf(input);
    if (!shaped.ok) return shaped;
    const attempt = await this.attempt(auth.userId);
    if (!attempt.ok) return attempt;
    const proved = await this.#prove(auth.userId, input, rp, { session: auth.sessionId }, passkeyPurposes.reauth);
    if (!proved.ok) return this.#failed(auth.userId, input.method, device);
    await this.#store.releaseAttempt(attempt.value);
    if (input.method === 'recovery_code') await this.#recoveryCodeUsed(auth.userId, auth.sessionId, device);
    return ok(proved.value);
  }

  /** Options of a passkey re-authentication of the caller. */
  reauthOptions(rp: RelyingParty, auth: AuthInfo) {
    return this.#passkeys.requestOptions(rp, passkeyPurposes.reauth, auth.userId, { session: auth.sessionId });
  }

  /** Checks one method's proof for `userId`; the `amr` values it stands for. */
  async #prove(userId: string, input: Omit<MfaVerification, 'mfaToken'>, rp: RelyingParty, bound: Record<string, string>, purpose: (typeof passkeyPurposes)['mfa' | 'reauth']): Promise<Result<string[], 'invalid_code'>> {
    if (input.method === 'passkey') {
      const matches = (data: unknown) => Object.entries(bound).every(([k, v]) => (data as Record<string, unknown> | null)?.[k] === v);
      const asserted = await this.#passkeys.assert(rp, input.credential, purpose, { userId, data: matches });
      return asserted.ok ? ok(asserted.value.userVerified ? ['hwk', 'user'] : ['hwk']) : fail('invalid_code');
    }
    const code = input.code ?? '';
    if (input.method === 'recovery_code') {
      const hash = hashRecoveryCode(userId, code);
      return hash !== null && (await this.#store.useCode(userId, hash)) ? ok(['otp']) : fail('invalid_code');
    }
    const totp = await this.#store.totp(userId);
    if (!totp || totp.confirmedAt === null) return fail('invalid_code');
    const step = await matchTotp(this.#box.open(totp.secret, secretLabel(userId)), code, this.#kit.clock.now(), totp.lastStep);
    // The step is recorded before anything else: of two racing uses of one code, one wins.
    return step !== null && (await this.#store.useStep(userId, step)) ? ok(['otp']) : fail('invalid_code');
  }

  async #recoveryCodeUsed(userId: string, sessionId: string, device: DeviceInfo): Promise<void> {
    this.#kit.emit({ type: 'mfa.recovery_code_used', userId, sessionId, codesLeft: await this.#store.codesLeft(userId), ...originOf(device) });
    await this.#kit.revoke({ userId, exceptSessionId: sessionId }, 'credential_change', originOf(device));
  }

  /**
   * Records an attempt of the user before its answer is checked (any method, the password of a
   * re-authentication too): its id, to take back when the answer is right, or `too_many_requests`
   * (with the wait) when it would be over the limit (10 per 15 minutes, on every instance).
   */
  async attempt(userId: string): Promise<Result<string, 'too_many_requests'>> {
    const now = this.#kit.clock.now();
    const id = this.#kit.random(16).toString('base64url');
    if ((await this.#store.reserveAttempt(userId, id, now, mfaLimits.failureWindowMs)) <= mfaLimits.failuresPerUser) return ok(id);
    await this.#store.releaseAttempt(id);
    const oldest = await this.#store.oldestFailure(userId, now, mfaLimits.failureWindowMs);
    this.#kit.emit({ type: 'rate_limited', rule: 'mfaPerUser' });
    return fail('too_many_requests', Math.max(1000, (oldest ?? now) + mfaLimits.failureWindowMs - now));
  }

  /** A wrong answer: its attempt stays counted; audited. */
  async #failed(userId: string, method: MfaMethod, device: DeviceInfo): Promise<{ ok: false; code: 'invalid_code' }> {
    this.failed(userId, method, device);
    return fail('invalid_code');
  }

  /** Audits a wrong answer of the user (its attempt, taken by `attempt`, stays counted). */
  failed(userId: string, method: MfaMethod | 'password', device: DeviceInfo): void {
    this.#kit.emit({ type: 'mfa.failed', userId, method, ...originOf(device) });
  }

  /** Support's reset (`tokenstile users mfa-reset`): TOTP, recovery codes and passkeys removed, every session ended. */
  async reset(userId: string): Promise<{ totp: boolean; passkeys: number }> {
    const now = this.#kit.clock.now();
    const totp = await this.#store.remove(userId, now);
    const passkeys = await this.#passkeys.store.removeAll(userId, now);
    this.#kit.emit({ type: 'mfa.reset', userId, totp, passkeys });
    await this.#kit.revoke({ userId }, 'admin');
    return { totp, passkeys };
  }

  /** Drops expired pending sign-ins and old failures (the purge timer). */
  purge(now: number): Promise<number> {
    return this.#store.purge(now, mfaLimits.failureWindowMs);
  }
}

