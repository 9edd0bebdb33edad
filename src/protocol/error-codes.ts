/**
 * The pieces a feature uses to declare its own error codes: each area (auth, OAuth, the common
 * request and token codes…) exports one {@link CodeSet} in its feature folder (src/features/<name>/), and
 * `error-registry.ts` merges them. Adding a feature adds a code set, not a case to a central switch.
 * This module imports nothing, so the verify package can carry it.
 */

/** What a code means on the wire: its HTTP status and its standard message (the problem `title`). */
export interface CodeSpec {
  /** HTTP status of every answer with this code. */
  readonly status: number;
  /** Human-readable default message, safe to show to end users; the problem's `title`. */
  readonly title: string;
}

/** The codes one feature declares, keyed by code. */
export type CodeSet = Readonly<Record<string, CodeSpec>>;

/**
 * Declares a feature's codes, keeping their literal names for the `ErrorCode` union.
 *
 * @example
 * export const mfaCodes = defineCodes({ mfa_required: { status: 403, title: 'A second factor is required.' } });
 */
export function defineCodes<const T extends CodeSet>(codes: T): T {
  return Object.freeze(codes);
}

/** Every key of every set in a tuple of code sets. */
type KeysOf<T extends readonly CodeSet[]> = T[number] extends infer S ? (S extends CodeSet ? keyof S & string : never) : never;

/** The union of a tuple of code sets, as one record. */
export type MergedCodes<T extends readonly CodeSet[]> = { readonly [K in KeysOf<T>]: CodeSpec };

/**
 * Merges the features' code sets into one registry. Two features may both declare a code (a
 * shared meaning, such as `invalid_request`) only with the same status; otherwise this throws at
 * load time, naming the code and both statuses, so a conflict never reaches a client.
 */
export function mergeCodes<const T extends readonly CodeSet[]>(sets: T): MergedCodes<T> {
  const merged: Record<string, CodeSpec> = {};
  for (const set of sets) {
    for (const [code, spec] of Object.entries(set)) {
      const claimed = merged[code];
      if (claimed !== undefined && claimed.status !== spec.status) {
        throw new Error(`Error code ${code} is declared twice with different statuses (${claimed.status} and ${spec.status}).`);
      }
      merged[code] ??= spec;
    }
  }
  return Object.freeze(merged) as MergedCodes<T>;
}
