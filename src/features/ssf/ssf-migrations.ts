import type { Migration } from '../../core/feature.ts';

/**
 * The shared-signals transmitter's tables (applied after the core's, recorded as `ssf/<name>`):
 * - `ssf_streams`: one row per receiver stream, owned by a client (`client_id`); `config` is the
 *   receiver's part of the stream configuration (JSON), `status` enabled | paused | disabled.
 * - `ssf_subjects`: subjects added (`included` 1) or removed (0) on a stream, by key
 *   (`user:<id>`, `email:<address>`, `session:<id>`).
 * - `ssf_outbox`: every SET not yet delivered, per stream, in order (`seq`), as its claims (JSON;
 *   signed when sent, with the key that signs then); written before the revocation that caused it
 *   answers. A push claims a row with `lease_until`; a 202 or a poll's
 *   `ack` deletes it; `expires_at` bounds how long an undelivered SET is kept.
 */
const tables = (t: { text: string; time: string; seq: string }): Migration[] => [
  {
    name: '0001_streams_subjects_outbox',
    sql: `
      CREATE TABLE ssf_streams (
        id          ${t.text} PRIMARY KEY,
        client_id   ${t.text} NOT NULL,
        config      ${t.text} NOT NULL,
        method      ${t.text} NOT NULL,
        status      ${t.text} NOT NULL,
        reason      ${t.text},
        created_at  ${t.time} NOT NULL,
        updated_at  ${t.time} NOT NULL
      );
      CREATE INDEX ssf_streams_client ON ssf_streams (client_id);
      CREATE TABLE ssf_subjects (
        stream_id   ${t.text} NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
        subject_key ${t.text} NOT NULL,
        included    ${t.time} NOT NULL,
        PRIMARY KEY (stream_id, subject_key)
      );
      CREATE TABLE ssf_outbox (
        seq         ${t.seq},
        jti         ${t.text} NOT NULL UNIQUE,
        stream_id   ${t.text} NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
        event_type  ${t.text} NOT NULL,
        claims      ${t.text} NOT NULL,
        created_at  ${t.time} NOT NULL,
        expires_at  ${t.time} NOT NULL,
        next_at     ${t.time} NOT NULL,
        lease_until ${t.time} NOT NULL,
        attempts    ${t.time} NOT NULL
      );
      CREATE INDEX ssf_outbox_stream ON ssf_outbox (stream_id, seq);
      CREATE INDEX ssf_outbox_due ON ssf_outbox (next_at);
      CREATE INDEX ssf_outbox_expiry ON ssf_outbox (expires_at);
    `,
  },
];

export const ssfMigrations = {
  sqlite: tables({ text: 'TEXT', time: 'INTEGER', seq: 'INTEGER PRIMARY KEY AUTOINCREMENT' }),
  postgres: tables({ text: 'text', time: 'bigint', seq: 'bigserial PRIMARY KEY' }),
} as const;
