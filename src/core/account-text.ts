/**
 * The text rules of accounts: which emails and display names are accepted, and the one form an
 * email is stored and looked up in, so that two accounts cannot differ only by characters a
 * person cannot see.
 */

/** The longest email accepted, in UTF-16 code units after normalization (RFC 5321 path limit). */
export const maxEmailLength = 254;

/** The longest display name accepted, in code points after trimming. */
export const maxNameLength = 100;

/**
 * Characters no email may hold: controls (C0, DEL, C1), format characters (zero-width joiners and
 * spaces, bidi marks, embeddings, overrides and isolates, the BOM), default-ignorable fillers,
 * separators of every kind, private-use, unassigned and lone surrogate code points.
 */
const notInEmail = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Z}\p{Co}\p{Cn}\p{Cs}]/u;

/**
 * Characters no display name may hold: controls (C0, DEL, C1), line and paragraph separators, lone
 * surrogates, and the bidi controls that reorder text around them (U+061C, U+200E, U+200F,
 * U+202A–U+202E, U+2066–U+2069). Zero-width joiners stay allowed: emoji sequences and several
 * scripts need them.
 */
const notInName = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** The outcome of checking a field: its stored form, or why it was refused (naming the field, never quoting it). */
export type TextCheck<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/**
 * An email in the one form it is stored and looked up in: trimmed, NFKC-normalized (full-width
 * and other compatibility forms become their plain letters) and lower-cased. Refused: invisible or
 * control characters anywhere, an empty label in the domain (a trailing dot, `..`), anything that
 * is not `local@domain.tld`, and more than 254 characters.
 */
export function checkEmail(email: string): TextCheck<string> {
  const e = email.trim().normalize('NFKC').toLowerCase().normalize('NFKC');
  if (notInEmail.test(e)) return { ok: false, reason: 'must not contain spaces, invisible or control characters' };
  const at = e.lastIndexOf('@');
  const local = e.slice(0, at);
  const domain = e.slice(at + 1);
  if (at < 1 || local.includes('@') || !domain.includes('.') || domain.split('.').some((label) => label.length === 0)) {
    return { ok: false, reason: 'must be an address like name@example.com' };
  }
  if (e.length > maxEmailLength) return { ok: false, reason: `must be at most ${maxEmailLength} characters` };
  return { ok: true, value: e };
}

/** The stored form of an email (see `checkEmail`), or null when it is refused. */
export function normalizeEmail(email: string): string | null {
  const r = checkEmail(email);
  return r.ok ? r.value : null;
}

/**
 * A display name as stored: trimmed, empty meaning none. Refused: control, bidi and line-breaking
 * characters (they would reorder or forge what an operator or another user sees), and more than
 * 100 code points.
 */
export function checkName(name: string | null | undefined): TextCheck<string | null> {
  if (name === null || name === undefined) return { ok: true, value: null };
  const n = name.trim();
  if (notInName.test(n)) return { ok: false, reason: 'must not contain control, bidi or line-breaking characters' };
  if ([...n].length > maxNameLength) return { ok: false, reason: `must be at most ${maxNameLength} characters` };
  return { ok: true, value: n.length > 0 ? n : null };
}
