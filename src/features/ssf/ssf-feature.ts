import { internals } from '../../core/core-internals.ts';
import { featureApi, type CoreFeature, type FeatureKit } from '../../core/feature.ts';
import { openSealed, sealValue } from '../../core/key-encryption.ts';
import type { Tokenstile } from '../../core/tokenstile.ts';
import { ssfMigrations } from './ssf-migrations.ts';
import { resolveSharedSignals, type SsfSettings } from './ssf-options.ts';
import { SsfStore } from './ssf-store.ts';
import { Transmitter } from './ssf-transmitter.ts';

const secretLabel = 'ssf-authorization-header';
const plainPrefix = 'plain:';

/** The transmitter as the routes use it. */
export interface SharedSignals {
  readonly settings: SsfSettings;
  readonly issuer: string;
  readonly store: SsfStore;
  readonly transmitter: Transmitter;
  /** Seals a receiver's `authorization_header` for storage (with the key-encryption key when one is set). */
  sealSecret(plain: string): string;
}

/** Wakes after another instance's revocation, a little later too: its outbox write may land just after the feed's message. */
const feedWakeDelaysMs = [0, 50, 250];

function openTransmitter(kit: FeatureKit, settings: SsfSettings): SharedSignals {
  const store = new SsfStore(kit.db);
  const kek = kit.keyEncryptionKey;
  const transmitter = new Transmitter({
    store,
    settings,
    issuer: kit.config.issuer,
    now: () => kit.clock.now(),
    signingKey: () => kit.signingKey(),
    userById: (id) => kit.stores.users.byId(id),
    emit: (event) => kit.emit(event),
    openSecret: (sealed) => (sealed.startsWith(plainPrefix) ? sealed.slice(plainPrefix.length) : openSealed(kek!, sealed, secretLabel)),
    logger: kit.logger,
  });
  kit.onRevoked((ended, cause, origin) => transmitter.revoked(ended, cause, origin));
  kit.onEvent((event) => transmitter.credentialEvent(event.type, event as unknown as Readonly<Record<string, unknown>>));
  const timers = new Set<NodeJS.Timeout>();
  const unsubscribe = internals(kit.core).onRevocations(() => {
    for (const ms of feedWakeDelaysMs) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        transmitter.wake();
      }, ms);
      timer.unref();
      timers.add(timer);
    }
  });
  kit.addPurge((at) => transmitter.purge(at));
  kit.onClose(async () => {
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    await transmitter.close();
  });
  transmitter.start();
  return {
    settings,
    issuer: kit.config.issuer,
    store,
    transmitter,
    sealSecret: (plain) => (kek === null ? plainPrefix + plain : sealValue(kek, plain, secretLabel)),
  };
}

/**
 * The OpenID Shared Signals transmitter (issue 18, docs/shared-signals.md): SSF 1.0 streams for
 * authorised receivers, CAEP `session-revoked` for every revocation and `credential-change` for
 * password, second-factor and passkey changes, pushed (RFC 8935) or polled (RFC 8936). Its tables
 * exist on every core; it does nothing unless `sharedSignals.enabled` (`TOKENSTILE_SSF=true`).
 */
export const ssfFeature: CoreFeature<SharedSignals | null> = {
  name: 'ssf',
  migrations: ssfMigrations,
  setup(kit) {
    const settings = resolveSharedSignals(kit.options.sharedSignals);
    return settings.enabled ? openTransmitter(kit, settings) : null;
  },
};

/** The transmitter of a core opened with the feature enabled, else null. */
export function sharedSignalsOf(core: Tokenstile): SharedSignals | null {
  return internals(core).features.has(ssfFeature.name) ? featureApi(core, ssfFeature) : null;
}
