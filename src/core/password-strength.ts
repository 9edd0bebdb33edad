import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { maxPasswordLength, meetsPasswordPolicy, normalizePassword } from './password.ts';

/**
 * The fewest guesses (log10) zxcvbn must estimate for a password to be accepted: 10^8, the
 * lower edge of its score 3 ("safely unguessable"), beyond an online attack and costly offline
 * against argon2id. A random 8-character password just reaches it; common passwords, keyboard
 * walks, dates, names, repeats and their l33t variants (`Summer2024!`, `p4ssw0rd!`) fall short.
 */
export const minPasswordGuessesLog10 = 8;

/**
 * Only the first 32 characters are scored: zxcvbn's cost grows faster than the length, and 32
 * strong characters make a strong password.
 */
const scoredLength = 32;

/**
 * How many l33t substitutions zxcvbn tries per password (its default is 100). The l33t matcher
 * tries their combinations, and was most of the cost: a 32-character password full of digits and
 * symbols took 250–550 ms of the event loop on a loaded 2-core machine with 100, 20–50 ms with 12.
 * Common l33t passwords (`P@$$w0rd123!`, `Dr@g0n$l@y3r1`, `ch@ng3m3!1`…) are refused the same.
 */
const l33tSubstitutions = 12;

/** The zxcvbn options that bound a check's cost (exported for the test that keeps them bounded). */
export const strengthCheckLimits = Object.freeze({ maxLength: scoredLength, l33tMaxSubstitutions: l33tSubstitutions });

let factory: Promise<ZxcvbnFactory> | undefined;

/**
 * zxcvbn-ts with its common and English dictionaries (about 1.5 s and some tens of MB to load),
 * loaded once, at the first check: importing Tokenstile, or only verifying tokens, never loads it.
 */
function loadZxcvbn(): Promise<ZxcvbnFactory> {
  factory ??= (async () => {
    const [{ ZxcvbnFactory }, common, en] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common'), import('@zxcvbn-ts/language-en')]);
    return new ZxcvbnFactory({ dictionary: { ...common.dictionary, ...en.dictionary }, graphs: common.adjacencyGraphs, translations: en.translations, ...strengthCheckLimits });
  })();
  factory.catch(() => {
    factory = undefined;
  });
  return factory;
}

/** Starts loading the dictionaries now (at server start), so that the first sign-up does not wait for them. */
export function preloadPasswordStrength(): void {
  loadZxcvbn().catch(() => {});
}

/**
 * Why `password` is refused, in a sentence for the user, or null when it is accepted: the length
 * and character-class rule (8–256 characters, not all of one kind), then zxcvbn's estimate with
 * the user's own email and name as extra dictionary words (a password made of them is weak).
 */
export async function passwordWeakness(password: string, userInputs: readonly (string | null | undefined)[] = []): Promise<string | null> {
  const chars = [...normalizePassword(password)].length;
  if (chars < 8) return 'Use at least 8 characters.';
  if (chars > maxPasswordLength) return `Use at most ${maxPasswordLength} characters.`;
  if (!meetsPasswordPolicy(password)) return 'Mix letters with digits or symbols.';
  const zxcvbn = await loadZxcvbn();
  // The whole text, an email's local part, and each word of it: any of them makes a weak password.
  const inputs = userInputs.flatMap((s) => (s ? [s, s.split('@')[0]!, ...s.split(/[@.\s_+-]+/).filter((w) => w.length >= 3)] : []));
  const result = zxcvbn.check([...normalizePassword(password)].slice(0, scoredLength).join(''), inputs);
  if (result.guessesLog10 >= minPasswordGuessesLog10) return null;
  const { warning, suggestions } = result.feedback;
  const why = warning ? `${warning.replace(/\.?$/, '.')}` : 'This password is too easy to guess.';
  return [why, ...suggestions.slice(0, 1)].join(' ');
}
