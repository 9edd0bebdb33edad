import type { Migration } from '../../core/feature.ts';

/**
 * The outbox: every mail, with its delivery state. `body_text`/`body_html` hold the link (a live
 * token) until the mail is sent, or, with no SMTP configured, until the link expires; then they
 * are cleared, and the row stays as a record of what was sent to whom and when.
 */
export const mailMigrations: { readonly sqlite: readonly Migration[]; readonly postgres: readonly Migration[] } = {
  sqlite: [
    {
      name: '0001_outbox',
      sql: `
        CREATE TABLE mail_outbox (
          id              TEXT PRIMARY KEY,
          kind            TEXT NOT NULL,
          recipient       TEXT NOT NULL,
          subject         TEXT NOT NULL,
          body_text       TEXT,
          body_html       TEXT,
          state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'outbox')),
          attempts        INTEGER NOT NULL,
          next_attempt_at INTEGER NOT NULL,
          last_error      TEXT,
          created_at      INTEGER NOT NULL,
          sent_at         INTEGER,
          expires_at      INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
        CREATE INDEX mail_outbox_by_expiry ON mail_outbox (expires_at);
      `,
    },
  ],
  postgres: [
    {
      name: '0001_outbox',
      sql: `
        CREATE TABLE mail_outbox (
          id              text PRIMARY KEY,
          kind            text NOT NULL,
          recipient       text NOT NULL,
          subject         text NOT NULL,
          body_text       text,
          body_html       text,
          state           text NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'outbox')),
          attempts        integer NOT NULL,
          next_attempt_at bigint NOT NULL,
          last_error      text,
          created_at      bigint NOT NULL,
          sent_at         bigint,
          expires_at      bigint NOT NULL
        );
        CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
        CREATE INDEX mail_outbox_by_expiry ON mail_outbox (expires_at);
      `,
    },
  ],
};
