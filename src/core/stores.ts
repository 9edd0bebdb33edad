import type { AuditLog } from './audit-log.ts';
import type { ClientStore } from './client-store.ts';
import type { CredentialStore } from './credential-store.ts';
import type { KeyStore } from './key-store.ts';
import type { RevocationLog } from './revocation-log.ts';
import type { SessionStore } from './session-store.ts';
import type { UserStore } from './user-store.ts';
import type { FeatureDatabase, Migration } from './feature.ts';
import type { OneTimeTokenStore } from './one-time-tokens.ts';

/** One backend's stores, opened and migrated. */
export interface Stores {
  /** A short name for logs and /readyz, such as `sqlite`. */
  readonly kind: string;
  readonly users: UserStore;
  /** The users' passwords and, as features arrive, their other credentials. */
  readonly credentials: CredentialStore;
  readonly sessions: SessionStore;
  /** The revocations `sessions.revoke` recorded, read by every instance. */
  readonly revocations: RevocationLog;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  /** Resource-server clients made by the CLI. Optional: without it, only configured clients exist. */
  readonly clients?: ClientStore;
  /** Single-use tokens sent out of band (see `OneTimeTokens`). */
  readonly oneTimeTokens: OneTimeTokenStore;
  /** SQL access for features' own tables, on the same database (see `FeatureDatabase`). */
  readonly database: FeatureDatabase;
  /** Resolves when the backend answers; rejects otherwise. */
  ping(): Promise<void>;
  /**
   * Applies pending schema migrations, the core's then `extra` (features' migrations, named
   * `<feature>/<name>`, for this backend's dialect), each once, in order, recorded in the same
   * migrations table; returns the names applied.
   */
  migrate(extra?: readonly Migration[]): Promise<string[]>;
  close(): Promise<void>;
}
