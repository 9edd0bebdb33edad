/** Schema migrations, applied in order, each once, each in its own transaction. Never edit one that shipped. */
export const sqliteMigrations: ReadonlyArray<{ readonly name: string; readonly sql: string }> = [
  {
    name: '0001_initial',
    sql: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        name          TEXT,
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        disabled_at   INTEGER
      ) STRICT;

      -- One row per login; refresh-token rotation state lives on the row, so it does not grow with use.
      CREATE TABLE sessions (
        id            TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at    INTEGER NOT NULL,
        last_used_at  INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        -- Latest exp of any access token issued for the session: a revocation must outlive it.
        access_expires_at INTEGER NOT NULL,
        revoked_at    INTEGER,
        user_agent    TEXT,
        ip            TEXT,
        generation    INTEGER NOT NULL,
        refresh_hash  TEXT NOT NULL,
        previous_hash TEXT,
        rotated_at    INTEGER,
        grace_box     TEXT
      ) STRICT;
      CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);

      -- seq is AUTOINCREMENT so that it never goes back: pollers use it as their cursor.
      CREATE TABLE revocations (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL CHECK (kind IN ('session')),
        subject    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        revoked_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX revocations_by_expiry ON revocations (expires_at);

      CREATE TABLE signing_keys (
        kid         TEXT PRIMARY KEY,
        alg         TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk  TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        retired_at  INTEGER
      ) STRICT;
      -- One active key per algorithm: of instances starting together on an empty database, one
      -- key wins and every instance signs with it.
      CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE retired_at IS NULL;

      CREATE TABLE secrets (
        name       TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    name: '0002_audit',
    sql: `
      -- Append-only; read by user, newest first; purged by age.
      CREATE TABLE audit_events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        at         INTEGER NOT NULL,
        type       TEXT NOT NULL,
        user_id    TEXT,
        session_id TEXT,
        ip         TEXT,
        user_agent TEXT,
        detail     TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_events_by_user ON audit_events (user_id, seq DESC);
      CREATE INDEX audit_events_by_time ON audit_events (at);
    `,
  },
  {
    name: '0003_clients',
    sql: `
      -- Resource-server clients made by \`tokenstile clients create\`: only SHA-256 of the secret.
      CREATE TABLE clients (
        id          TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      ) STRICT;
      `,
    },
  {
    name: '0004_opaque_access',
    sql: `
      -- SHA-256 of the current opaque access handle's secret (TOKENSTILE_ACCESS_TOKEN_FORMAT=opaque):
      -- the handle-to-session mapping. Replaced by every refresh, cleared when the session ends.
      ALTER TABLE sessions ADD COLUMN access_hash TEXT;
    `,
  },
  {
    name: '0005_credentials',
    sql: `
      -- A user has zero or more credentials, by kind (the password first; passkeys, TOTP and
      -- external identities later). The password hash moves here from users.
      CREATE TABLE credentials (
        id         TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        secret     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX credentials_by_user ON credentials (user_id, kind, created_at);
      CREATE UNIQUE INDEX credentials_one_password ON credentials (user_id) WHERE kind = 'password';
      INSERT INTO credentials (id, user_id, kind, secret, created_at, updated_at)
        SELECT lower(hex(randomblob(16))), id, 'password', password_hash, created_at, updated_at FROM users;

      -- Moves on with every credential change; a session is inserted only at the stamp its
      -- sign-in read, so one racing a change cannot outlive it. Existing sessions stay valid.
      ALTER TABLE users ADD COLUMN credential_stamp INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users DROP COLUMN password_hash;

      -- How the session's user authenticated (RFC 8176 values, space-separated); every session
      -- so far began with a password.
      ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
    `,
  },
  {
    name: '0006_account_features',
    sql: `
      -- When the user proved they receive mail at their email; null until then (every existing user).
      ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

      -- When the user last proved who they are in the session (sign-in, re-authentication);
      -- existing sessions: their sign-in.
      ALTER TABLE sessions ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
      UPDATE sessions SET auth_time = created_at;

      -- Single-use tokens sent out of band (reset links, verification codes…): SHA-256 only.
      CREATE TABLE one_time_tokens (
        hash       TEXT PRIMARY KEY,
        purpose    TEXT NOT NULL,
        user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
        subject    TEXT,
        data       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX one_time_tokens_by_user ON one_time_tokens (user_id, purpose);
      CREATE INDEX one_time_tokens_by_expiry ON one_time_tokens (expires_at);
    `,
  },
  {
    name: '0007_dpop',
    sql: `
      -- The DPoP key (RFC 7638 thumbprint) a session is bound to (RFC 9449); null: Bearer tokens.
      ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT;
    `,
  },
];
