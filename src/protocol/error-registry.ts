import { featureCodes } from '../features/feature-codes.ts';
import { commonCodes } from './common-codes.ts';
import { mergeCodes, type CodeSet, type CodeSpec } from './error-codes.ts';

/**
 * Every error code of Tokenstile and its built-in features, merged from the code sets each feature
 * declares in its folder (src/features/<name>/<name>-codes.ts, listed in
 * src/features/feature-codes.ts); they make the `ErrorCode` union, the status table and the messages.
 */
export const errorRegistry = mergeCodes([commonCodes, ...featureCodes]);

/** Every built-in error code: the keys of {@link errorRegistry}. */
export type RegisteredCode = keyof typeof errorRegistry;

/** Codes of features outside the built-in list (an embedder's, a test's), registered when mounted. */
const added = new Map<string, CodeSpec>();

/**
 * Adds a mounted feature's codes, so that its answers carry their status and title. A code already
 * known keeps its spec; the same code with another status throws (as `mergeCodes` does).
 */
export function registerCodes(set: CodeSet): void {
  for (const [code, spec] of Object.entries(set)) {
    const known = codeSpec(code);
    if (known !== undefined && known.status !== spec.status) {
      throw new Error(`Error code ${code} is declared twice with different statuses (${known.status} and ${spec.status}).`);
    }
    if (known === undefined) added.set(code, Object.freeze({ status: spec.status, title: spec.title }));
  }
}

/** The status and title of a code, built-in or registered; undefined for an unknown one. */
export function codeSpec(code: string): CodeSpec | undefined {
  return Object.hasOwn(errorRegistry, code) ? (errorRegistry as Readonly<Record<string, CodeSpec>>)[code] : added.get(code);
}
