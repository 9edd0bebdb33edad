/**
 * The PostgreSQL schema: the same tables as SQLite, times as BIGINT milliseconds since the epoch,
 * ids as text. Migrations are applied in order, each once, each in its own transaction. Never edit
 * one that shipped.
 */
export const postgresMigrations: ReadonlyArray<{ readonly name: string; readonly sql: string }> = [
  {
    name: '0001_initial',
    sql: `
      CREATE TABLE users (
        id            text PRIMARY KEY,
        email         text NOT NULL,
        name          text,
        password_hash text NOT NULL,
        created_at    bigint NOT NULL,
        updated_at    bigint NOT NULL,
        disabled_at   bigint
      );
      -- The atomic "email taken" check: registrations insert with ON CONFLICT (email) DO NOTHING.
      CREATE UNIQUE INDEX users_by_email ON users (email);

      -- One row per login; refresh-token rotation state lives on the row, so it does not grow with use.
      CREATE TABLE sessions (
        id                text PRIMARY KEY,
        user_id           text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at        bigint NOT NULL,
        last_used_at      bigint NOT NULL,
        expires_at        bigint NOT NULL,
        -- Latest exp of any access token issued for the session: a revocation must outlive it.
        access_expires_at bigint NOT NULL,
        revoked_at        bigint,
        user_agent        text,
        ip                text,
        generation        integer NOT NULL,
        refresh_hash      text NOT NULL,
        previous_hash     text,
        rotated_at        bigint,
        grace_box         text
      );
      CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
      CREATE INDEX sessions_by_access_expiry ON sessions (access_expires_at);
      CREATE INDEX sessions_with_grace_box ON sessions (rotated_at) WHERE grace_box IS NOT NULL;

      -- seq orders the feed that pollers follow. Sequence values are handed out at insert and
      -- become visible at commit, so they can appear out of order: see postgres-revocation-feed.ts.
      CREATE TABLE revocations (
        seq        bigserial PRIMARY KEY,
        kind       text NOT NULL CHECK (kind IN ('session')),
        subject    text NOT NULL,
        user_id    text NOT NULL,
        revoked_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX revocations_by_expiry ON revocations (expires_at);

      CREATE TABLE signing_keys (
        kid         text PRIMARY KEY,
        alg         text NOT NULL,
        private_jwk jsonb NOT NULL,
        public_jwk  jsonb NOT NULL,
        created_at  bigint NOT NULL,
        retired_at  bigint
      );
      -- One active key per algorithm: of instances starting together on an empty database, one
      -- key wins and every instance signs with it.
      CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE retired_at IS NULL;

      CREATE TABLE secrets (
        name       text PRIMARY KEY,
        value      text NOT NULL,
        created_at bigint NOT NULL
      );
    `,
  },
  {
    name: '0002_audit',
    sql: `
      -- Append-only; read by user, newest first; purged by age.
      CREATE TABLE audit_events (
        seq        bigserial PRIMARY KEY,
        at         bigint NOT NULL,
        type       text NOT NULL,
        user_id    text,
        session_id text,
        ip         text,
        user_agent text,
        detail     jsonb NOT NULL
      );
      CREATE INDEX audit_events_by_user ON audit_events (user_id, seq DESC);
      CREATE INDEX audit_events_by_time ON audit_events (at);
    `,
  },
  {
    name: '0003_clients',
    sql: `
      -- Resource-server clients made by \`tokenstile clients create\`: only SHA-256 of the secret.
      CREATE TABLE clients (
        id          text PRIMARY KEY,
        secret_hash text NOT NULL,
        created_at  bigint NOT NULL
      );
      `,
    },
  {
    name: '0004_opaque_access',
    sql: `
      -- SHA-256 of the current opaque access handle's secret (TOKENSTILE_ACCESS_TOKEN_FORMAT=opaque):
      -- the handle-to-session mapping. Replaced by every refresh, cleared when the session ends.
      ALTER TABLE sessions ADD COLUMN access_hash text;
    `,
  },
  {
    name: '0005_credentials',
    sql: `
      -- A user has zero or more credentials, by kind (the password first; passkeys, TOTP and
      -- external identities later). The password hash moves here from users.
      CREATE TABLE credentials (
        id         text PRIMARY KEY,
        user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind       text NOT NULL,
        secret     text NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE INDEX credentials_by_user ON credentials (user_id, kind, created_at);
      CREATE UNIQUE INDEX credentials_one_password ON credentials (user_id) WHERE kind = 'password';
      INSERT INTO credentials (id, user_id, kind, secret, created_at, updated_at)
        SELECT gen_random_uuid()::text, id, 'password', password_hash, created_at, updated_at FROM users;

      -- Moves on with every credential change; a session is inserted only at the stamp its
      -- sign-in read, so one racing a change cannot outlive it. Existing sessions stay valid.
      ALTER TABLE users ADD COLUMN credential_stamp bigint NOT NULL DEFAULT 0;
      ALTER TABLE users DROP COLUMN password_hash;

      -- How the session's user authenticated (RFC 8176 values, space-separated); every session
      -- so far began with a password.
      ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT 'pwd';
    `,
  },
  {
    name: '0006_account_features',
    sql: `
      -- When the user proved they receive mail at their email; null until then (every existing user).
      ALTER TABLE users ADD COLUMN email_verified_at bigint;

      -- When the user last proved who they are in the session (sign-in, re-authentication);
      -- existing sessions: their sign-in.
      ALTER TABLE sessions ADD COLUMN auth_time bigint;
      UPDATE sessions SET auth_time = created_at;
      ALTER TABLE sessions ALTER COLUMN auth_time SET NOT NULL;

      -- Single-use tokens sent out of band (reset links, verification codes…): SHA-256 only.
      -- data is the issuer's JSON text, kept as written (text, not jsonb).
      CREATE TABLE one_time_tokens (
        hash       text PRIMARY KEY,
        purpose    text NOT NULL,
        user_id    text REFERENCES users (id) ON DELETE CASCADE,
        subject    text,
        data       text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX one_time_tokens_by_user ON one_time_tokens (user_id, purpose);
      CREATE INDEX one_time_tokens_by_expiry ON one_time_tokens (expires_at);
    `,
  },
  {
    name: '0007_dpop',
    sql: `
      -- The DPoP key (RFC 7638 thumbprint) a session is bound to (RFC 9449); null: Bearer tokens.
      ALTER TABLE sessions ADD COLUMN dpop_jkt text;
    `,
  },
];

/** Creates the schema (when one is configured) and the migrations ledger; run under the migration lock. */
export function bootstrapSql(quotedSchema: string | null): string {
  const schema = quotedSchema === null ? '' : `CREATE SCHEMA IF NOT EXISTS ${quotedSchema};`;
  return `${schema}
    CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at bigint NOT NULL);`;
}

/**
 * Serializes migrations across every process migrating the same schema: a transaction-scoped
 * advisory lock, released by COMMIT or ROLLBACK (so a crashed starter cannot leave it held).
 */
export const migrationLockSql = 'SELECT pg_advisory_xact_lock(hashtext($1))';

export const appliedMigrationsSql = 'SELECT name FROM schema_migrations';
export const recordMigrationSql = 'INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)';
