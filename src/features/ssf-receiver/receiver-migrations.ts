/**
 * The Shared Signals receiver's tables, applied after the core's (recorded as `ssf-receiver/<name>`):
 * - `ssf_receiver_sets`: the `jti` (SHA-256) of every SET processed, per receiver, until its
 *   `iat` is older than the receiver's `maxAge` (older SETs are refused anyway), so that a
 *   re-delivered SET is a no-op on every instance.
 * - `ssf_receiver_leases`: which instance polls a receiver (or registers its stream) now, until when.
 * - `ssf_receiver_streams`: the stream registered at a transmitter (`createStream`), so that it is
 *   registered once, not at every start of every instance.
 */
const tables = (t: { text: string; time: string }) => `
  CREATE TABLE ssf_receiver_sets (
    receiver   ${t.text} NOT NULL,
    jti_hash   ${t.text} NOT NULL,
    expires_at ${t.time} NOT NULL,
    PRIMARY KEY (receiver, jti_hash)
  );
  CREATE INDEX ssf_receiver_sets_expiry ON ssf_receiver_sets (expires_at);
  CREATE TABLE ssf_receiver_leases (
    name       ${t.text} PRIMARY KEY,
    holder     ${t.text} NOT NULL,
    expires_at ${t.time} NOT NULL
  );
  CREATE TABLE ssf_receiver_streams (
    receiver     ${t.text} PRIMARY KEY,
    stream_id    ${t.text},
    endpoint_url ${t.text},
    created_at   ${t.time} NOT NULL
  );
`;

export const receiverMigrations = {
  sqlite: [{ name: '0001_sets_leases_streams', sql: tables({ text: 'TEXT', time: 'INTEGER' }) }],
  postgres: [{ name: '0001_sets_leases_streams', sql: tables({ text: 'text', time: 'bigint' }) }],
} as const;
