/**
 * The social feature's tables, applied after the core's (recorded as `social/<name>`):
 * - `social_identities`: an external identity (provider, subject) linked to a user; unique per
 *   provider and subject, so one provider account is never linked to two users.
 * - `social_sessions`: for each Tokenstile session started by a provider sign-in, the provider's
 *   subject and session id (`sid`), so that a back-channel logout finds the sessions to end.
 * - `social_logout_tokens`: the `jti` (SHA-256) of every logout token accepted, until it expires,
 *   so that a replay is refused on every instance.
 */
const tables = (t: { text: string; time: string; bool: string }) => `
  CREATE TABLE social_identities (
    id             ${t.text} PRIMARY KEY,
    provider       ${t.text} NOT NULL,
    subject        ${t.text} NOT NULL,
    user_id        ${t.text} NOT NULL,
    email          ${t.text},
    email_verified ${t.bool} NOT NULL,
    created_at     ${t.time} NOT NULL,
    UNIQUE (provider, subject)
  );
  CREATE INDEX social_identities_user ON social_identities (user_id);
  CREATE TABLE social_sessions (
    session_id ${t.text} PRIMARY KEY,
    provider   ${t.text} NOT NULL,
    subject    ${t.text} NOT NULL,
    sid        ${t.text},
    expires_at ${t.time} NOT NULL
  );
  CREATE INDEX social_sessions_sid ON social_sessions (provider, sid);
  CREATE INDEX social_sessions_subject ON social_sessions (provider, subject);
  CREATE TABLE social_logout_tokens (
    provider   ${t.text} NOT NULL,
    jti_hash   ${t.text} NOT NULL,
    expires_at ${t.time} NOT NULL,
    PRIMARY KEY (provider, jti_hash)
  );
`;

export const socialMigrations = {
  sqlite: [{ name: '0001_identities_sessions_logout_tokens', sql: tables({ text: 'TEXT', time: 'INTEGER', bool: 'INTEGER' }) }],
  postgres: [{ name: '0001_identities_sessions_logout_tokens', sql: tables({ text: 'text', time: 'bigint', bool: 'boolean' }) }],
} as const;
