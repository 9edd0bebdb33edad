import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JWTVerifyGetKey } from 'jose';
import { normalizeEmail } from '../../core/accounts.ts';
import { internals } from '../../core/core-internals.ts';
import { featureApi, type CoreFeature, type FeatureKit } from '../../core/feature.ts';
import type { Tokenstile } from '../../core/tokenstile.ts';
import { socialOf } from '../social/social-feature.ts';
import { parseReceivers, upstreamUrl, type ReceiverSettings } from './receiver-options.ts';
import { receiverMigrations } from './receiver-migrations.ts';
import { sqlReceiverStore, type ReceiverStore } from './receiver-store.ts';
import { startPoller, type Poller } from './set-poller.ts';
import { processSet, ssfRevocationCause, type ProcessorDeps, type SetOutcome } from './set-processor.ts';
import { remoteSetKeys, SetCheckUnavailable, type SetRefusal } from './set-token.ts';
import { createStream, fetchMetadata } from './transmitter-client.ts';

/** How a push was answered (RFC 8935 section 2): 202, or 400/401 with `{err, description}`. */
export type PushAnswer = { readonly status: 202 } | { readonly status: 400 | 401; readonly err: SetRefusal['err'] | 'authentication_failed'; readonly description: string };

/** The Shared Signals receiver's core (no HTTP): what its route calls, `featureApi(core, 'ssf-receiver')`. */
export interface SharedSignalsReceiver {
  /** The configured receivers' ids and delivery methods. */
  receivers(): { id: string; method: 'push' | 'poll' }[];
  /**
   * A SET pushed to push receiver `id` with this `Authorization` header: null when there is no such
   * push receiver. Resolves 202 only once the sessions it names ended on every instance. Throws a
   * `SetCheckUnavailable` when the transmitter's keys could not be fetched (answer 503: it retries).
   */
  push(id: string, authorization: string | undefined, token: string): Promise<PushAnswer | null>;
  /** Starts the poll loops and stream registrations (servers only, not the CLI); resolves the function that stops them. */
  start(): () => Promise<void>;
}

/** The bearer token of an `Authorization` header, or null. */
function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

/** Constant-time comparison of two secrets of any length (their SHA-256 digests are compared). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The receiver's dependencies and api, made from the kit. */
function createReceiver(kit: FeatureKit, receivers: readonly ReceiverSettings[], store: ReceiverStore, fetchFn: typeof fetch): SharedSignalsReceiver {
  const keys = new Map<string, Promise<JWTVerifyGetKey>>();
  const streams = new Map<string, Promise<string | null>>();
  const byId = new Map(receivers.map((r) => [r.id, r]));

  async function jwksUri(receiver: ReceiverSettings): Promise<URL> {
    if (receiver.jwksUri !== null) return receiver.jwksUri;
    const metadata = await fetchMetadata(receiver, fetchFn);
    if (metadata.jwksUri === null) throw new Error(`receiver ${receiver.id}: the transmitter's metadata has no jwks_uri`);
    return metadata.jwksUri;
  }

  const deps: ProcessorDeps = {
    store,
    now: () => kit.clock.now(),
    clockToleranceSeconds: Math.ceil(kit.config.clockToleranceMs / 1000),
    async keys(receiver) {
      let found = keys.get(receiver.id);
      if (found === undefined) {
        found = jwksUri(receiver).then(remoteSetKeys);
        keys.set(receiver.id, found);
        // A failed look-up is tried again at the next SET.
        found.catch(() => keys.delete(receiver.id));
      }
      try {
        return await found;
      } catch (err) {
        kit.logger?.warn({ receiver: receiver.id, err: { message: (err as Error).message } }, 'tokenstile: the signing keys of a Shared Signals transmitter could not be found');
        throw new SetCheckUnavailable((err as Error).message, { cause: err });
      }
    },
    revoke: async (target) => (await kit.revoke(target, ssfRevocationCause)).length,
    emit: (event) => kit.emit(event),
    match: {
      ourIssuer: kit.config.issuer,
      async userIdByEmail(email) {
        const normalized = normalizeEmail(email);
        return normalized === null ? null : ((await kit.stores.users.byEmail(normalized))?.id ?? null);
      },
      userExists: async (userId) => (await kit.stores.users.byId(userId)) !== null,
      get providers() {
        return socialOf(kit.core);
      },
    },
  };

  async function process(receiver: ReceiverSettings, token: string): Promise<SetOutcome> {
    const outcome = await processSet(deps, receiver, token);
    if (outcome.status === 'refused') kit.logger?.info({ receiver: receiver.id, reason: outcome.refusal.err, detail: outcome.refusal.description }, 'tokenstile: a Security Event Token was refused');
    return outcome;
  }

  /** The stream registered at the receiver's transmitter (once, by one instance); its poll endpoint, if any. */
  function registeredEndpoint(receiver: ReceiverSettings, holder: string): Promise<string | null> {
    let found = streams.get(receiver.id);
    if (found === undefined) {
      found = (async () => {
        const recorded = await store.stream(receiver.id);
        if (recorded !== null) return recorded.endpointUrl;
        const now = kit.clock.now();
        if (!(await store.takeLease(`stream:${receiver.id}`, holder, now, now + 60_000))) throw new Error(`receiver ${receiver.id}: another instance is registering the stream`);
        const metadata = await fetchMetadata(receiver, fetchFn);
        if (metadata.configurationEndpoint === null) throw new Error(`receiver ${receiver.id}: the transmitter's metadata has no configuration_endpoint`);
        const created = await createStream(receiver, metadata.configurationEndpoint, fetchFn);
        await store.recordStream(receiver.id, created, kit.clock.now());
        kit.emit({ type: 'ssf-receiver.stream_created', receiver: receiver.id, streamId: created.streamId });
        return created.endpointUrl;
      })();
      streams.set(receiver.id, found);
      found.catch(() => streams.delete(receiver.id));
    }
    return found;
  }

  return {
    receivers: () => receivers.map((r) => ({ id: r.id, method: r.delivery.method })),
    async push(id, authorization, token) {
      const receiver = byId.get(id);
      if (receiver === undefined || receiver.delivery.method !== 'push') return null;
      const presented = bearerToken(authorization);
      if (presented === null || !sameSecret(presented, receiver.delivery.secret)) {
        kit.emit({ type: 'ssf-receiver.set_refused', receiver: id, reason: 'authentication_failed' });
        return { status: 401, err: 'authentication_failed', description: 'the Authorization header does not hold this receiver\'s bearer token' };
      }
      const outcome = await process(receiver, token);
      return outcome.status === 'refused' ? { status: 400, ...outcome.refusal } : { status: 202 };
    },
    start() {
      const holder = randomBytes(12).toString('base64url');
      const pollers: Poller[] = [];
      const retries = new AbortController();
      for (const receiver of receivers) {
        if (receiver.delivery.method === 'poll') {
          const { endpoint } = receiver.delivery;
          pollers.push(
            startPoller({
              receiver,
              store,
              holder,
              async endpoint() {
                if (endpoint !== null) return endpoint;
                const url = await registeredEndpoint(receiver, holder);
                if (url === null) throw new Error(`receiver ${receiver.id}: the created stream names no poll endpoint`);
                return upstreamUrl(url, `receiver ${receiver.id}: the created stream's endpoint_url`);
              },
              process: (token) => process(receiver, token),
              now: () => kit.clock.now(),
              fetch: fetchFn,
              logger: kit.logger,
            }),
          );
        } else if (receiver.createStream !== null) {
          // Push: registered in the background, tried again with backoff until it works or the server stops.
          void (async () => {
            for (let wait = 1_000; !retries.signal.aborted; wait = Math.min(wait * 2, 300_000)) {
              try {
                await registeredEndpoint(receiver, holder);
                return;
              } catch (err) {
                kit.logger?.warn({ receiver: receiver.id, err: { message: (err as Error).message } }, 'tokenstile: registering a Shared Signals stream failed; trying again');
                await new Promise((resolve) => setTimeout(resolve, wait).unref());
              }
            }
          })();
        }
      }
      return async () => {
        retries.abort();
        await Promise.all(pollers.map((p) => p.stop()));
      };
    },
  };
}

/**
 * OpenID Shared Signals receiver (issue 18, docs/shared-signals.md#receiver-ending-sessions-when-an-upstream-says-so): accepts CAEP
 * `session-revoked` (and, when enabled, password `credential-change`) Security Event Tokens from
 * upstream transmitters, pushed (RFC 8935) or polled (RFC 8936), and ends the matching sessions.
 * Off unless `sharedSignalsReceivers` (`TOKENSTILE_SSF_RECEIVERS`) lists receivers.
 */
export const ssfReceiverFeature: CoreFeature<SharedSignalsReceiver> = {
  name: 'ssf-receiver',
  migrations: receiverMigrations,
  setup(kit) {
    const receivers = parseReceivers(kit.options.sharedSignalsReceivers, kit.config.issuer);
    const store = sqlReceiverStore(kit.db);
    kit.addPurge((at) => store.purge(at));
    return createReceiver(kit, receivers, store, globalThis.fetch);
  },
};

/** The receiver's api on a core opened with it; null on a core opened without it (an embedder's choice). */
export function receiverOf(core: Tokenstile): SharedSignalsReceiver | null {
  return internals(core).features.has(ssfReceiverFeature.name) ? featureApi(core, ssfReceiverFeature) : null;
}
