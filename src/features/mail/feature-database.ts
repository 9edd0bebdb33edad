// Until the feature foundation lands: the shape src/core/feature.ts will declare (see
// /work/prompts/foundation-api.md). Replaced by an import from there once it exists.

/** SQL access for features; placeholders are the dialect's own (`?` for sqlite, `$1` for postgres). */
export interface FeatureDatabase {
  readonly dialect: 'sqlite' | 'postgres';
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Returns the number of rows changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  transaction<T>(fn: (db: FeatureDatabase) => Promise<T>): Promise<T>;
}

/** A migration of a feature's own tables. */
export interface Migration {
  readonly name: string;
  readonly sql: string;
}
