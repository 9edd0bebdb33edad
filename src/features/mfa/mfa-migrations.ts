import type { Migration } from '../../core/feature.ts';

/**
 * The MFA feature's tables: a TOTP secret per user (pending until confirmed; `last_step`, the
 * last time step accepted, makes each code single use), hashed recovery codes, the pending
 * second-factor sign-ins (`mfaToken`s, stored hashed, with their failed attempts), and failed
 * second-factor attempts per user (the per-user limit, shared by every instance); and passkeys.
 */
const tables = (int: string): Migration[] => [
  {
    name: '0001_totp_and_recovery_codes',
    sql: `
      CREATE TABLE mfa_totp (
        user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        secret       TEXT NOT NULL,
        created_at   ${int} NOT NULL,
        confirmed_at ${int},
        last_step    ${int}
      );
      CREATE TABLE mfa_recovery_codes (
        code_hash  TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at ${int} NOT NULL
      );
      CREATE INDEX mfa_recovery_codes_by_user ON mfa_recovery_codes (user_id);
      CREATE TABLE mfa_challenges (
        token_hash       TEXT PRIMARY KEY,
        user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        credential_stamp ${int} NOT NULL,
        amr              TEXT NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        expires_at       ${int} NOT NULL
      );
      CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges (expires_at);
      CREATE TABLE mfa_failures (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        at      ${int} NOT NULL
      );
      CREATE INDEX mfa_failures_by_user ON mfa_failures (user_id, at);
    `,
  },
  {
    // The passkeys of each user: the WebAuthn credential, its signature counter, a name the user chose.
    name: '0002_passkeys',
    sql: `
      CREATE TABLE passkeys (
        id            TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        credential_id TEXT NOT NULL UNIQUE,
        public_key    TEXT NOT NULL,
        counter       ${int} NOT NULL,
        transports    TEXT NOT NULL,
        name          TEXT NOT NULL,
        created_at    ${int} NOT NULL,
        last_used_at  ${int}
      );
      CREATE INDEX passkeys_by_user ON passkeys (user_id);
    `,
  },
  {
    // Each second-factor attempt is recorded before its answer is checked (so racing attempts all
    // count against the per-user limit) and taken back by id when it was right.
    name: '0003_mfa_attempt_ids',
    sql: `
      ALTER TABLE mfa_failures ADD COLUMN attempt_id TEXT;
      CREATE INDEX mfa_failures_by_attempt ON mfa_failures (attempt_id);
    `,
  },
  {
    // What the feature that asked for the sign-in carries to its second step (JSON, e.g. a provider
    // sign-in's origin for back-channel logout), handed back when the session starts.
    name: '0004_mfa_challenge_carry',
    sql: 'ALTER TABLE mfa_challenges ADD COLUMN carry TEXT;',
  },
];

export const mfaMigrations = { sqlite: tables('INTEGER'), postgres: tables('BIGINT') } as const;
