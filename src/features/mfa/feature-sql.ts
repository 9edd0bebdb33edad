import type { FeatureDatabase, SqlValue } from '../../core/feature.ts';

/**
 * SQL shared by the MFA and passkey features. Their statements are written once with `?`
 * placeholders, which this turns into PostgreSQL's `$1, $2…`; the column types differ only in the
 * migrations (one list per dialect).
 */
export function sql(db: FeatureDatabase, text: string): string {
  if (db.dialect === 'sqlite') return text;
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** Rows of `text`. */
export function rows<T>(db: FeatureDatabase, text: string, params: readonly SqlValue[] = []): Promise<T[]> {
  return db.query<T>(sql(db, text), params);
}

/** Runs `text`; the number of rows changed. */
export function run(db: FeatureDatabase, text: string, params: readonly SqlValue[] = []): Promise<number> {
  return db.execute(sql(db, text), params);
}

/**
 * Moves the user's credential stamp on, as the core's `CredentialStore` does for a password
 * change: run inside the transaction that changes a second factor, so that a sign-in checked
 * against the old factors and racing the change either commits first (and its session is ended
 * by the change's revocation) or starts no session at all. False when there is no such user.
 */
export async function moveCredentialStamp(db: FeatureDatabase, userId: string, now: number): Promise<boolean> {
  return (await run(db, 'UPDATE users SET credential_stamp = credential_stamp + 1, updated_at = ? WHERE id = ?', [now, userId])) === 1;
}

/** A number column (PostgreSQL `bigint` comes back as a string). */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/** A nullable number column. */
export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}
