import { originOf, type CoreContext } from './context.ts';
import { passwordCredential } from './credential-store.ts';
import type { TokenstileOptions } from './config.ts';
import type { AuthEventListener } from './events.ts';
import type { CoreFeature, FeatureKit, HeldSignInStarted, RevokedListener, SignInGate } from './feature.ts';
import type { OneTimeTokens } from './one-time-tokens.ts';
import { startSession } from './sessions.ts';
import type { Tokenstile } from './tokenstile.ts';

/** What the features added to a core while they were set up. */
export interface FeatureHooks {
  /** Run by `login` in order; the core context reads this array. */
  readonly gates: SignInGate[];
  /** Run by the purge timer after the core's own purges. */
  readonly purges: Array<(now: number) => Promise<unknown>>;
  /** Run by `close`, last added first. */
  readonly closers: Array<() => Promise<void> | void>;
  /** Told of every event the core reports, after the host's `onEvent`. */
  readonly listeners: AuthEventListener[];
  /** The ways to sign in that features bring, by name (`addSignInMethod`). */
  readonly signInMethods: Map<string, (userId: string) => Promise<number>>;
  /** Told of sessions started for held sign-ins that carried a feature's value, by feature name (`onHeldSignInStarted`). */
  readonly heldSignIns: Map<string, (started: HeldSignInStarted) => Promise<void>>;
  /** Awaited by every revocation, with the sessions it ended, before it answers (`onRevoked`). */
  readonly revoked: RevokedListener[];
}

/** Empty hooks, for a core to hand to `setUpFeatures`. */
export function featureHooks(): FeatureHooks {
  return { gates: [], purges: [], closers: [], listeners: [], signInMethods: new Map(), heldSignIns: new Map(), revoked: [] };
}

/**
 * Calls each feature's `setup` once, in order, with its kit, and records what it returned in
 * `apis` (by name). A feature's hooks take effect as it adds them. Throws what a setup throws.
 */
export async function setUpFeatures(
  ctx: CoreContext,
  core: Tokenstile,
  features: readonly CoreFeature[],
  deps: { readonly hooks: FeatureHooks; readonly oneTimeTokens: OneTimeTokens; readonly apis: Map<string, unknown>; readonly keyEncryptionKey?: Buffer | null; readonly options: TokenstileOptions },
): Promise<void> {
  const { hooks } = deps;
  for (const feature of features) {
    const kit: FeatureKit = {
      core,
      config: ctx.config,
      clock: ctx.clock,
      random: ctx.random,
      hasher: ctx.hasher,
      logger: ctx.logger,
      emit: (event) => ctx.emit(event),
      db: ctx.stores.database,
      stores: ctx.stores,
      revoke: (target, cause, origin) => ctx.revoke(target, cause, origin),
      dropCache: (userId, sessionId) => ctx.dropCache(userId, sessionId),
      async startSession(user, amr, device) {
        const issued = await startSession(ctx, user, amr, device);
        if (issued) ctx.emit({ type: 'session_started', userId: user.id, sessionId: issued.session.id, amr: amr.join(' '), ...originOf(device) });
        return issued;
      },
      oneTimeTokens: deps.oneTimeTokens,
      keyEncryptionKey: deps.keyEncryptionKey ?? null,
      addSignInGate: (gate) => void hooks.gates.push(gate),
      addPurge: (fn) => void hooks.purges.push(fn),
      onClose: (fn) => void hooks.closers.push(fn),
      options: deps.options,
      limits: ctx.limits,
      onEvent: (listener) => void hooks.listeners.push(listener),
      addSignInMethod: (name, count) => void hooks.signInMethods.set(name, count),
      async signInMethods(userId, except) {
        const counts = [...hooks.signInMethods].filter(([name]) => name !== except).map(([, count]) => count(userId));
        const password = ctx.stores.credentials.list(userId, passwordCredential).then((list) => Math.min(list.length, 1));
        return (await Promise.all([password, ...counts])).reduce((a, b) => a + b, 0);
      },
      async checkSignIn(attempt, carry) {
        const held = carry === undefined ? attempt : { ...attempt, carry: { feature: feature.name, value: carry } };
        for (const gate of hooks.gates) {
          const refused = await gate(held);
          if (refused !== null) return refused;
        }
        return null;
      },
      onRevoked: (listener) => void hooks.revoked.push(listener),
      signingKey: () => ({ kid: ctx.keyring.signing.kid, alg: ctx.keyring.alg, key: ctx.keyring.signing.key }),
      onHeldSignInStarted: (listener) => void hooks.heldSignIns.set(feature.name, listener),
      async heldSignInStarted(carry, started) {
        const listener = carry ? hooks.heldSignIns.get(carry.feature) : undefined;
        if (listener !== undefined) await listener({ ...started, value: carry!.value });
      },
    };
    deps.apis.set(feature.name, feature.setup === undefined ? undefined : await feature.setup(kit));
  }
}

/** Runs the features' purges one after another; a failing one is logged and the rest still run. */
export async function runFeaturePurges(hooks: FeatureHooks, now: number, warn: (err: unknown) => void): Promise<void> {
  for (const purge of hooks.purges) {
    try {
      await purge(now);
    } catch (err) {
      warn(err);
    }
  }
}

/** Runs the features' close hooks, last added first; a failing one is logged and the rest still run. */
export async function runFeatureClosers(hooks: FeatureHooks, warn: (err: unknown) => void): Promise<void> {
  for (const close of [...hooks.closers].reverse()) {
    try {
      await close();
    } catch (err) {
      warn(err);
    }
  }
}
