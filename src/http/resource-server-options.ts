import type { ClientCredentials } from '../core/clients.ts';
import type { RevocationStreamOptions } from '../features/revocation-stream/revocation-stream-routes.ts';
import type { FeatureEntry } from '../features/feature-entry.ts';

/**
 * What resource servers use: `/oauth/*` and the revocation stream. Options of every adapter (the
 * Fastify plugin, `buildApp`, the Node and fetch handlers); declared apart from them so that the
 * package's root types name no framework.
 */
export interface ResourceServerOptions {
  /**
   * Clients allowed on `/oauth/revoke`, `/oauth/introspect` and `/revocations/stream`:
   * `TOKENSTILE_CLIENTS` syntax (`id:secret,id2:sha256.HASH`) or a list. Default: none (those
   * endpoints answer 401 invalid_client).
   */
  readonly clients?: string | readonly ClientCredentials[];
  /** Heartbeat and replay window of `/revocations/stream`. */
  readonly revocationStream?: RevocationStreamOptions;
  /**
   * The features whose routes are mounted (and, when the adapter opens the core, whose core halves
   * it opens): see src/features/index.ts. Default: the built-in list. With a ready core
   * (`tokenstile`), it must have been opened with these features' core halves.
   */
  readonly features?: readonly FeatureEntry[];
}
